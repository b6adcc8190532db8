using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Stage2Lab.Simulation.Tlb;

/// <summary>What a TLB entry translates.</summary>
internal enum TlbEntryKind
{
    /// <summary>VA → PA, stage 1 and stage 2 combined (CombineS1S2Desc).</summary>
    Combined = 0,
    /// <summary>Stage-1 table descriptor: a VA prefix at a level → the next table's PA (walk cache).</summary>
    Stage1Table = 1,
    /// <summary>Stage-2 leaf: IPA → PA.</summary>
    Stage2Leaf = 2,
    /// <summary>Stage-2 table descriptor: an IPA prefix at a level → the next stage-2 table (walk cache).</summary>
    Stage2Table = 3,
}

/// <summary>
/// A set-associative TLB array with least-recently-used replacement in each set (at most
/// <see cref="MaxWays"/> ways). An entry is a tag <c>(address &gt;&gt; shift) &lt;&lt; 8 | kind &lt;&lt; 6 | shift</c>: the
/// number of the 2^shift-byte block it covers, what it translates, and its size; tag 0 is an empty way (a real
/// tag is never 0: its shift is at least 12). The set is the low bits of the block number. Lookups allocate
/// nothing; each (kind, size) present is tracked so a lookup probes only sizes that can hit.
/// <para>
/// Layout: one array of sets, each the size of one or two 64-byte lines (8 slots for up to 7 ways, 16 for up to 15):
/// the ways' tags, zero padding, and in the last slot the set's recency order, one 4-bit way number per position,
/// most recent at position 0. A probe compares every tag of the set at once (vector compare, a bit mask of the ways
/// that match), a hit moves its way to the front of the order (a few shifts and masks), and a fill takes the first
/// empty way or the way at the last position: no loop over ways, no data-dependent branch. (The array is not
/// aligned, so a set may straddle two lines; aligning it on the pinned heap measured no faster.)
/// The order is exactly the order of the ways' last uses (every fill and hit moves its way to the front), so the
/// victim is the least recently used way, as with last-use stamps.
/// </para>
/// </summary>
internal sealed class TlbArray
{
    /// <summary>The recency order keeps one 4-bit way number per position in a 64-bit word, and the move-to-front
    /// shifts by up to 4 × (ways - 1) bits below 64.</summary>
    public const int MaxWays = 15;

    private const int KindCount = 4;
    private const int ShiftBits = 6;
    private const int TagShift = 8;
    private const ulong Nibbles = 0x1111_1111_1111_1111;

    private readonly ulong[] _slots;
    private readonly int _ways;
    private readonly int _setStride;
    private readonly int _orderSlot;
    private readonly int _lruShift;
    private readonly uint _waysMask;
    private readonly ulong _initialOrder;
    private readonly ulong _setMask;
    private readonly int[] _liveByClass = new int[KindCount << ShiftBits];
    private readonly ulong[] _shiftsPresent = new ulong[KindCount];
    private readonly int[] _liveByKind = new int[KindCount];

    public TlbArray(int entries, int ways)
    {
        int sets = ways <= 0 ? 0 : entries / ways;
        if (ways <= 0 || sets * ways != entries || !BitOperations.IsPow2(sets))
            throw new ArgumentException($"a TLB of {entries} entries and {ways} ways must have a power-of-two number of sets");
        if (ways > MaxWays)
            throw new ArgumentException($"a set-associative TLB of {ways} ways: at most {MaxWays} are modelled (model a fully associative L1 with FullyAssociativeTlb)");
        _ways = ways;
        _setStride = ways < TagLine.Slots ? TagLine.Slots : 2 * TagLine.Slots;
        _orderSlot = _setStride - 1;
        _lruShift = 4 * (ways - 1);
        _waysMask = (1u << ways) - 1;
        for (int way = 0; way < ways; way++)
            _initialOrder |= (ulong)way << (4 * way);
        _setMask = (ulong)sets - 1;
        _slots = new ulong[sets * _setStride];
        Clear();
    }

    public int Capacity => (_slots.Length / _setStride) * _ways;

    public int Live(TlbEntryKind kind) => _liveByKind[(int)kind];

    public int LiveTotal => _liveByKind[0] + _liveByKind[1] + _liveByKind[2] + _liveByKind[3];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Tag(ulong address, TlbEntryKind kind, int shift) =>
        ((address >> shift) << TagShift) | ((ulong)(uint)kind << ShiftBits) | (uint)shift;

    /// <summary>Whether an entry of this kind and exactly this size covers the address; refreshes it if so.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Lookup(ulong address, TlbEntryKind kind, int shift)
    {
        // No entry of this kind and size at all: nothing to scan (and nothing to refresh).
        if ((_shiftsPresent[(int)kind] >> shift & 1) == 0)
            return false;
        return Probe(address, kind, shift);
    }

    /// <summary>Whether an entry of this kind and any size covers the address (its size in
    /// <paramref name="shift"/>); refreshes it if so.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool LookupAnySize(ulong address, TlbEntryKind kind, out int shift)
    {
        ulong present = _shiftsPresent[(int)kind];
        while (present != 0)
        {
            int s = BitOperations.TrailingZeroCount(present);
            if (Probe(address, kind, s))
            {
                shift = s;
                return true;
            }
            present &= present - 1;
        }
        shift = 0;
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Probe(ulong address, TlbEntryKind kind, int shift)
    {
        ref ulong set = ref SetOf(address >> shift);
        uint hit = Matches(ref set, Tag(address, kind, shift)) & _waysMask;
        if (hit == 0)
            return false;
        Touch(ref set, BitOperations.TrailingZeroCount(hit));
        return true;
    }

    /// <summary>The first slot (way 0's tag) of the set holding block number <paramref name="block"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref ulong SetOf(ulong block) =>
        ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_slots), (nint)(block & _setMask) * _setStride);

    /// <summary>A bit per slot of the set (way order) whose value equals <paramref name="value"/>; the caller masks
    /// off the padding and the order slot with <see cref="_waysMask"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint Matches(ref ulong set, ulong value)
    {
        uint mask = TagLine.Matches(ref set, value);
        if (_setStride > TagLine.Slots)
            mask |= TagLine.Matches(ref Unsafe.Add(ref set, TagLine.Slots), value) << TagLine.Slots;
        return mask;
    }

    /// <summary>
    /// Makes <paramref name="way"/> the set's most recent: its position p in the order is found as the lowest
    /// zero nibble of <c>order ^ (way × 0x11…1)</c> (the classic has-zero-byte test on nibbles, exact for the
    /// lowest zero), the nibbles below p move up one position and the way goes to position 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Touch(ref ulong set, int way)
    {
        ref ulong orderSlot = ref Unsafe.Add(ref set, _orderSlot);
        ulong order = orderSlot;
        ulong x = order ^ ((ulong)(uint)way * Nibbles);
        int bitsBelow = BitOperations.TrailingZeroCount((x - Nibbles) & ~x & (Nibbles << 3)) & ~3;
        ulong below = order & ((1UL << bitsBelow) - 1);
        ulong above = order & ~((16UL << bitsBelow) - 1);
        orderSlot = above | (below << 4) | (uint)way;
    }

    /// <summary>Installs an entry (or refreshes it), evicting the set's least recently used one when full.</summary>
    public void Insert(ulong address, TlbEntryKind kind, int shift)
    {
        ulong tag = Tag(address, kind, shift);
        ref ulong set = ref SetOf(address >> shift);
        uint hit = Matches(ref set, tag) & _waysMask;
        if (hit != 0)
        {
            Touch(ref set, BitOperations.TrailingZeroCount(hit));
            return;
        }
        // The first empty way, else the least recently used (the last position of the order).
        uint empty = Matches(ref set, 0) & _waysMask;
        int way;
        if (empty != 0)
        {
            way = BitOperations.TrailingZeroCount(empty);
            Remember(tag);
        }
        else
        {
            way = (int)(Unsafe.Add(ref set, _orderSlot) >> _lruShift) & 15;
            Forget(Unsafe.Add(ref set, way));
            Remember(tag);
        }
        Unsafe.Add(ref set, way) = tag;
        Touch(ref set, way);
    }

    /// <summary>Removes every entry of the kinds in <paramref name="kindMask"/> (bit = 1 &lt;&lt; kind); returns how many.</summary>
    public int RemoveKinds(int kindMask)
    {
        if (!AnyLive(kindMask))
            return 0;
        int removed = 0;
        for (int i = 0; i < _slots.Length; i++)
        {
            if (!IsTagSlot(i))
                continue;
            ulong tag = _slots[i];
            if (tag != 0 && (kindMask >> KindOf(tag) & 1) != 0)
            {
                Forget(tag);
                _slots[i] = 0;
                removed++;
            }
        }
        return removed;
    }

    /// <summary>Removes the entries of the kinds in <paramref name="kindMask"/> that cover <paramref name="address"/>.</summary>
    public int RemoveCovering(ulong address, int kindMask)
    {
        if (!AnyLive(kindMask))
            return 0;
        int removed = 0;
        for (int kind = 0; kind < KindCount; kind++)
        {
            if ((kindMask >> kind & 1) == 0)
                continue;
            ulong present = _shiftsPresent[kind];
            while (present != 0)
            {
                int s = BitOperations.TrailingZeroCount(present);
                present &= present - 1;
                ulong tag = Tag(address, (TlbEntryKind)kind, s);
                ref ulong set = ref SetOf(address >> s);
                uint hit = Matches(ref set, tag) & _waysMask;
                if (hit != 0)
                {
                    Forget(tag);
                    Unsafe.Add(ref set, BitOperations.TrailingZeroCount(hit)) = 0;
                    removed++;
                }
            }
        }
        return removed;
    }

    /// <summary>Removes the entries of the kinds in <paramref name="kindMask"/> that overlap [start, start+size).</summary>
    public int RemoveOverlapping(ulong start, ulong sizeBytes, int kindMask)
    {
        if (!AnyLive(kindMask) || sizeBytes == 0)
            return 0;
        ulong last = start + (sizeBytes - 1);
        int removed = 0;
        for (int i = 0; i < _slots.Length; i++)
        {
            if (!IsTagSlot(i))
                continue;
            ulong tag = _slots[i];
            if (tag == 0 || (kindMask >> KindOf(tag) & 1) == 0)
                continue;
            int s = ShiftOf(tag);
            ulong entryStart = (tag >> TagShift) << s;
            ulong entryLast = entryStart + ((1UL << s) - 1);
            if (entryStart <= last && start <= entryLast)
            {
                Forget(tag);
                _slots[i] = 0;
                removed++;
            }
        }
        return removed;
    }

    public void Clear()
    {
        Array.Clear(_slots);
        for (int order = _orderSlot; order < _slots.Length; order += _setStride)
            _slots[order] = _initialOrder;
        Array.Clear(_liveByClass);
        Array.Clear(_shiftsPresent);
        Array.Clear(_liveByKind);
    }

    /// <summary>The entries held, as (kind, block start, log2 size), for tests and dumps.</summary>
    public IEnumerable<(TlbEntryKind Kind, ulong Start, int Shift)> Entries()
    {
        for (int i = 0; i < _slots.Length; i++)
        {
            ulong tag = _slots[i];
            if (IsTagSlot(i) && tag != 0)
                yield return ((TlbEntryKind)KindOf(tag), (tag >> TagShift) << ShiftOf(tag), ShiftOf(tag));
        }
    }

    /// <summary>The first inconsistency between the tags and the live counts, or null.</summary>
    public string? Problems()
    {
        var counts = new int[KindCount << ShiftBits];
        for (int set = 0; set * _setStride < _slots.Length; set++)
        {
            var seen = new HashSet<ulong>();
            for (int w = 0; w < _ways; w++)
            {
                ulong tag = _slots[set * _setStride + w];
                if (tag == 0)
                    continue;
                if (!seen.Add(tag))
                    return $"tag 0x{tag:x} twice in set {set}";
                if ((int)((tag >> TagShift) & _setMask) != set)
                    return $"tag 0x{tag:x} in set {set}, not its own";
                counts[(KindOf(tag) << ShiftBits) | ShiftOf(tag)]++;
            }
        }
        for (int i = 0; i < counts.Length; i++)
        {
            if (counts[i] != _liveByClass[i] || (counts[i] != 0) != ((_shiftsPresent[i >> ShiftBits] >> (i & 63) & 1) != 0))
                return $"live count of kind {i >> ShiftBits} size 2^{i & 63} is {_liveByClass[i]}, {counts[i]} held";
        }
        for (int set = 0; set * _setStride < _slots.Length; set++)
        {
            ulong order = _slots[set * _setStride + _orderSlot];
            ulong seenWays = 0;
            for (int position = 0; position < _ways; position++)
                seenWays |= 1UL << (int)(order >> (4 * position) & 15);
            if (seenWays != (1UL << _ways) - 1 || order >> (4 * _ways) != 0)
                return $"set {set}: recency order 0x{order:x} is not a permutation of its {_ways} ways";
        }
        return null;
    }

    /// <summary>Whether slot <paramref name="i"/> holds a tag (not padding or a set's recency order).</summary>
    private bool IsTagSlot(int i) => i % _setStride < _ways;

    private bool AnyLive(int kindMask)
    {
        for (int kind = 0; kind < KindCount; kind++)
        {
            if ((kindMask >> kind & 1) != 0 && _liveByKind[kind] != 0)
                return true;
        }
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int KindOf(ulong tag) => (int)(tag >> ShiftBits) & (KindCount - 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ShiftOf(ulong tag) => (int)tag & ((1 << ShiftBits) - 1);

    /// <summary>Counts an entry in; branch-free (a fill's kind and size are unpredictable in a mixed stream).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Remember(ulong tag)
    {
        int kind = KindOf(tag), shift = ShiftOf(tag);
        _liveByKind[kind]++;
        _liveByClass[(kind << ShiftBits) | shift]++;
        _shiftsPresent[kind] |= 1UL << shift;
    }

    /// <summary>Counts an entry out; the size stays present while any entry of it is left.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Forget(ulong tag)
    {
        int kind = KindOf(tag), shift = ShiftOf(tag);
        _liveByKind[kind]--;
        int left = --_liveByClass[(kind << ShiftBits) | shift];
        _shiftsPresent[kind] &= ~((ulong)(left == 0 ? 1u : 0u) << shift);
    }
}
