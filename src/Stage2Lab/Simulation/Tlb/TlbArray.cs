using System.Numerics;
using System.Runtime.CompilerServices;

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
/// </summary>
internal sealed class TlbArray
{
    private const int KindCount = 4;
    private const int ShiftBits = 6;
    private const int TagShift = 8;

    private readonly ulong[] _tags;
    private readonly long[] _stamps;
    private readonly int _ways;
    private readonly ulong _setMask;
    private readonly int[] _liveByClass = new int[KindCount << ShiftBits];
    private readonly ulong[] _shiftsPresent = new ulong[KindCount];
    private readonly int[] _liveByKind = new int[KindCount];
    private long _clock;

    public TlbArray(int entries, int ways)
    {
        int sets = entries / ways;
        if (ways <= 0 || sets * ways != entries || !BitOperations.IsPow2(sets))
            throw new ArgumentException($"a TLB of {entries} entries and {ways} ways must have a power-of-two number of sets");
        _ways = ways;
        _setMask = (ulong)sets - 1;
        _tags = new ulong[entries];
        _stamps = new long[entries];
    }

    public int Capacity => _tags.Length;

    public int Live(TlbEntryKind kind) => _liveByKind[(int)kind];

    public int LiveTotal => _liveByKind[0] + _liveByKind[1] + _liveByKind[2] + _liveByKind[3];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Tag(ulong address, TlbEntryKind kind, int shift) =>
        ((address >> shift) << TagShift) | ((ulong)(uint)kind << ShiftBits) | (uint)shift;

    /// <summary>Whether an entry of this kind and exactly this size covers the address; refreshes it if so.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Lookup(ulong address, TlbEntryKind kind, int shift)
    {
        int first = (int)((address >> shift) & _setMask) * _ways;
        int way = WayOf(first, Tag(address, kind, shift));
        if (way < 0)
            return false;
        _stamps[first + way] = ++_clock;
        return true;
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
            if (Lookup(address, kind, s))
            {
                shift = s;
                return true;
            }
            present &= present - 1;
        }
        shift = 0;
        return false;
    }

    /// <summary>Installs an entry (or refreshes it), evicting the set's least recently used one when full.</summary>
    public void Insert(ulong address, TlbEntryKind kind, int shift)
    {
        ulong tag = Tag(address, kind, shift);
        int first = (int)((address >> shift) & _setMask) * _ways;
        // One pass over the set: the way holding the tag, else the first empty way, else the least recently used.
        ulong[] tags = _tags;
        long[] stamps = _stamps;
        int empty = -1, oldest = first;
        for (int i = first; i < first + _ways; i++)
        {
            ulong t = tags[i];
            if (t == tag)
            {
                stamps[i] = ++_clock;
                return;
            }
            if (t == 0)
            {
                if (empty < 0)
                    empty = i;
            }
            else if (stamps[i] < stamps[oldest] || tags[oldest] == 0)
            {
                oldest = i;
            }
        }
        int way = empty;
        if (way < 0)
        {
            way = oldest;
            Forget(tags[way]);
        }
        tags[way] = tag;
        Remember(tag);
        stamps[way] = ++_clock;
    }

    /// <summary>Removes every entry of the kinds in <paramref name="kindMask"/> (bit = 1 &lt;&lt; kind); returns how many.</summary>
    public int RemoveKinds(int kindMask)
    {
        if (!AnyLive(kindMask))
            return 0;
        int removed = 0;
        for (int i = 0; i < _tags.Length; i++)
        {
            ulong tag = _tags[i];
            if (tag != 0 && (kindMask >> KindOf(tag) & 1) != 0)
            {
                Forget(tag);
                _tags[i] = 0;
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
                int first = (int)((address >> s) & _setMask) * _ways;
                int way = WayOf(first, tag);
                if (way >= 0)
                {
                    Forget(tag);
                    _tags[first + way] = 0;
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
        for (int i = 0; i < _tags.Length; i++)
        {
            ulong tag = _tags[i];
            if (tag == 0 || (kindMask >> KindOf(tag) & 1) == 0)
                continue;
            int s = ShiftOf(tag);
            ulong entryStart = (tag >> TagShift) << s;
            ulong entryLast = entryStart + ((1UL << s) - 1);
            if (entryStart <= last && start <= entryLast)
            {
                Forget(tag);
                _tags[i] = 0;
                removed++;
            }
        }
        return removed;
    }

    public void Clear()
    {
        Array.Clear(_tags);
        Array.Clear(_stamps);
        Array.Clear(_liveByClass);
        Array.Clear(_shiftsPresent);
        Array.Clear(_liveByKind);
        _clock = 0;
    }

    /// <summary>The entries held, as (kind, block start, log2 size), for tests and dumps.</summary>
    public IEnumerable<(TlbEntryKind Kind, ulong Start, int Shift)> Entries()
    {
        foreach (ulong tag in _tags)
        {
            if (tag != 0)
                yield return ((TlbEntryKind)KindOf(tag), (tag >> TagShift) << ShiftOf(tag), ShiftOf(tag));
        }
    }

    /// <summary>The way of the set starting at <paramref name="first"/> holding <paramref name="tag"/>, or -1 (a
    /// plain loop: sets have a handful of ways).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int WayOf(int first, ulong tag)
    {
        ulong[] tags = _tags;
        for (int w = 0; w < _ways; w++)
        {
            if (tags[first + w] == tag)
                return w;
        }
        return -1;
    }

    /// <summary>The first inconsistency between the tags and the live counts, or null.</summary>
    public string? Problems()
    {
        var counts = new int[KindCount << ShiftBits];
        for (int set = 0; set * _ways < _tags.Length; set++)
        {
            var seen = new HashSet<ulong>();
            for (int w = 0; w < _ways; w++)
            {
                ulong tag = _tags[set * _ways + w];
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
