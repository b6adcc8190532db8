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
/// A set-associative TLB array with least-recently-used replacement in each set (entries == ways: fully
/// associative). An entry is a tag <c>(address &gt;&gt; shift) &lt;&lt; 8 | kind &lt;&lt; 6 | shift</c>: the number of the
/// 2^shift-byte block it covers, what it translates, and its size; tag 0 is an empty way. The set is the low
/// bits of the block number. Lookups allocate nothing; each (kind, size) present is tracked so a lookup probes
/// only sizes that can hit.
/// <para>
/// Layout: one array, a set after another, each set its ways' tags then their last-use stamps (5 ways: 80 bytes),
/// so a lookup and the refresh of its hit touch one or two adjacent cache lines. The set loops index through a
/// ref to the set's first slot: the set number is masked and the array holds sets × 2 × ways slots, so every
/// index is in range.
/// </para>
/// </summary>
internal sealed class TlbArray
{
    private const int KindCount = 4;
    private const int ShiftBits = 6;
    private const int TagShift = 8;

    private readonly ulong[] _slots;
    private readonly int _ways;
    private readonly int _setStride;
    private readonly ulong _setMask;
    private readonly int[] _liveByClass = new int[KindCount << ShiftBits];
    private readonly ulong[] _shiftsPresent = new ulong[KindCount];
    private readonly int[] _liveByKind = new int[KindCount];
    private ulong _clock;

    public TlbArray(int entries, int ways)
    {
        int sets = ways <= 0 ? 0 : entries / ways;
        if (ways <= 0 || sets * ways != entries || !BitOperations.IsPow2(sets))
            throw new ArgumentException($"a TLB of {entries} entries and {ways} ways must have a power-of-two number of sets");
        _ways = ways;
        _setStride = 2 * ways;
        _setMask = (ulong)sets - 1;
        _slots = new ulong[sets * _setStride];
    }

    public int Capacity => _slots.Length / 2;

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
        ulong tag = Tag(address, kind, shift);
        int ways = _ways;
        for (int w = 0; w < ways; w++)
        {
            if (Unsafe.Add(ref set, w) == tag)
            {
                Unsafe.Add(ref set, ways + w) = ++_clock;
                return true;
            }
        }
        return false;
    }

    /// <summary>The first slot (way 0's tag) of the set holding block number <paramref name="block"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref ulong SetOf(ulong block) =>
        ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_slots), (nint)(block & _setMask) * _setStride);

    /// <summary>Installs an entry (or refreshes it), evicting the set's least recently used one when full.</summary>
    public void Insert(ulong address, TlbEntryKind kind, int shift)
    {
        ulong tag = Tag(address, kind, shift);
        ref ulong set = ref SetOf(address >> shift);
        int ways = _ways;
        // One pass over the set: the way holding the tag, else the first empty way, else the least recently used.
        int empty = -1, oldest = 0;
        for (int w = 0; w < ways; w++)
        {
            ulong t = Unsafe.Add(ref set, w);
            if (t == tag)
            {
                Unsafe.Add(ref set, ways + w) = ++_clock;
                return;
            }
            if (t == 0)
            {
                if (empty < 0)
                    empty = w;
            }
            else if (Unsafe.Add(ref set, ways + w) < Unsafe.Add(ref set, ways + oldest) || Unsafe.Add(ref set, oldest) == 0)
            {
                oldest = w;
            }
        }
        int way = empty;
        if (way < 0)
        {
            way = oldest;
            ulong victim = Unsafe.Add(ref set, way);
            // The same kind and size out and in (a walk's combined entry replacing another): no count changes.
            if ((byte)victim != (byte)tag)
            {
                Forget(victim);
                Remember(tag);
            }
        }
        else
        {
            Remember(tag);
        }
        Unsafe.Add(ref set, way) = tag;
        Unsafe.Add(ref set, ways + way) = ++_clock;
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
                for (int w = 0; w < _ways; w++)
                {
                    if (Unsafe.Add(ref set, w) == tag)
                    {
                        Forget(tag);
                        Unsafe.Add(ref set, w) = 0;
                        removed++;
                        break;
                    }
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
        Array.Clear(_liveByClass);
        Array.Clear(_shiftsPresent);
        Array.Clear(_liveByKind);
        _clock = 0;
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
        return null;
    }

    /// <summary>Whether slot <paramref name="i"/> holds a tag (not a stamp).</summary>
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

    private static int KindOf(ulong tag) => (int)(tag >> ShiftBits) & (KindCount - 1);

    private static int ShiftOf(ulong tag) => (int)tag & ((1 << ShiftBits) - 1);

    private void Remember(ulong tag)
    {
        int kind = KindOf(tag), shift = ShiftOf(tag);
        _liveByKind[kind]++;
        if (_liveByClass[(kind << ShiftBits) | shift]++ == 0)
            _shiftsPresent[kind] |= 1UL << shift;
    }

    private void Forget(ulong tag)
    {
        int kind = KindOf(tag), shift = ShiftOf(tag);
        _liveByKind[kind]--;
        if (--_liveByClass[(kind << ShiftBits) | shift] == 0)
            _shiftsPresent[kind] &= ~(1UL << shift);
    }
}
