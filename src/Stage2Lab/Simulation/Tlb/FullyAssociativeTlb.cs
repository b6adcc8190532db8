using System.Numerics;
using System.Runtime.CompilerServices;

namespace Stage2Lab.Simulation.Tlb;

/// <summary>
/// A fully associative TLB of combined (VA→PA) entries with exact least-recently-used replacement, as the L1
/// TLBs are modelled: a hash index finds an entry in O(1), and a doubly linked recency list makes a hit's
/// refresh and a miss's eviction O(1), so a 48-entry array costs no 48-way scan per access. Entries are tags
/// <c>(va &gt;&gt; shift) &lt;&lt; 8 | shift</c>; nothing is allocated after construction.
/// </summary>
internal sealed class FullyAssociativeTlb
{
    private const int TagShift = 8;
    private const int None = -1;

    private readonly ulong[] _tags;        // per entry; 0 = free
    private readonly int[] _newer;         // recency list: towards the most recent
    private readonly int[] _older;         // recency list: towards the least recent
    private readonly int[] _index;         // open-addressing hash: tag -> entry, None = empty slot
    private readonly ulong[] _slotTags;    // the tag at each index slot (0 = empty): a probe reads no entry
    private readonly int _indexMask;
    private readonly int[] _liveByShift = new int[64];
    private ulong _shiftsPresent;
    private int _mostRecent = None;
    private int _leastRecent = None;
    private int _live;

    public FullyAssociativeTlb(int entries)
    {
        if (entries <= 0)
            throw new ArgumentException($"a TLB needs at least one entry, not {entries}");
        _tags = new ulong[entries];
        _newer = new int[entries];
        _older = new int[entries];
        // At most 1/8 full (48 entries in 512 slots): a miss probe and an eviction's backward shift nearly always
        // stop at the next slot. (Scanning all 48 tags with vector compares instead, no index, made a walk's
        // eviction cheaper but an L1 hit half again as slow.)
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)entries * 8);
        _index = new int[size];
        _slotTags = new ulong[size];
        _indexMask = size - 1;
        Clear();
    }

    public int Capacity => _tags.Length;

    public int Live => _live;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Tag(ulong address, int shift) => ((address >> shift) << TagShift) | (uint)shift;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Home(ulong tag) => (int)((tag * 0x9E3779B97F4A7C15UL) >> 40) & _indexMask;

    /// <summary>Whether an entry of any size covers the address (its size in <paramref name="shift"/>); a hit
    /// becomes the most recently used.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool LookupAnySize(ulong address, out int shift)
    {
        ulong present = _shiftsPresent;
        while (present != 0)
        {
            int s = BitOperations.TrailingZeroCount(present);
            int entry = Find(Tag(address, s));
            if (entry != None)
            {
                Touch(entry);
                shift = s;
                return true;
            }
            present &= present - 1;
        }
        shift = 0;
        return false;
    }

    /// <summary>Installs an entry the caller has just missed on, evicting the least recently used when full.</summary>
    public void Insert(ulong address, int shift)
    {
        ulong tag = Tag(address, shift);
        int entry;
        if (_live < _tags.Length)
        {
            entry = _live++;
        }
        else
        {
            entry = _leastRecent;
            Unlink(entry);
            Unindex(_tags[entry]);
            Forget(_tags[entry]);
        }
        _tags[entry] = tag;
        Index(tag, entry);
        if (_liveByShift[shift]++ == 0)
            _shiftsPresent |= 1UL << shift;
        LinkMostRecent(entry);
    }

    /// <summary>Removes every entry; returns how many there were.</summary>
    public int RemoveAll()
    {
        int removed = _live;
        if (removed != 0)
            Clear();
        return removed;
    }

    public void Clear()
    {
        Array.Clear(_tags);
        Array.Fill(_index, None);
        Array.Clear(_slotTags);
        Array.Clear(_liveByShift);
        _shiftsPresent = 0;
        _mostRecent = _leastRecent = None;
        _live = 0;
    }

    /// <summary>The entries, most recent first, as (block start, log2 size).</summary>
    public IEnumerable<(ulong Start, int Shift)> Entries()
    {
        for (int e = _mostRecent; e != None; e = _older[e])
        {
            int shift = (int)(_tags[e] & 63);
            yield return ((_tags[e] >> TagShift) << shift, shift);
        }
    }

    /// <summary>A description of the first inconsistency between the index, the recency list and the entries, or null.</summary>
    public string? Problems()
    {
        var seen = new HashSet<ulong>();
        int count = 0;
        for (int e = _mostRecent; e != None; e = _older[e])
        {
            if (++count > _tags.Length)
                return "the recency list loops";
            if (!seen.Add(_tags[e]))
                return $"tag 0x{_tags[e]:x} twice";
            if (Find(_tags[e]) != e)
                return $"tag 0x{_tags[e]:x} not indexed at entry {e}";
        }
        return count != _live ? $"{count} entries listed, {_live} live" : null;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Find(ulong tag)
    {
        ulong[] slotTags = _slotTags;
        int slot = Home(tag);
        while (true)
        {
            ulong t = slotTags[slot];
            if (t == tag)
                return _index[slot];
            if (t == 0)
                return None;
            slot = (slot + 1) & _indexMask;
        }
    }

    private void Index(ulong tag, int entry)
    {
        int slot = Home(tag);
        while (_slotTags[slot] != 0)
            slot = (slot + 1) & _indexMask;
        _slotTags[slot] = tag;
        _index[slot] = entry;
    }

    /// <summary>Linear-probing deletion with backward shift (no tombstones).</summary>
    private void Unindex(ulong tag)
    {
        int slot = Home(tag);
        while (_slotTags[slot] != tag)
            slot = (slot + 1) & _indexMask;
        int hole = slot;
        int next = (hole + 1) & _indexMask;
        while (_slotTags[next] != 0)
        {
            int home = Home(_slotTags[next]);
            // Move the entry back into the hole unless its home lies cyclically in (hole, next].
            bool stays = hole <= next ? home > hole && home <= next : home > hole || home <= next;
            if (!stays)
            {
                _slotTags[hole] = _slotTags[next];
                _index[hole] = _index[next];
                hole = next;
            }
            next = (next + 1) & _indexMask;
        }
        _slotTags[hole] = 0;
        _index[hole] = None;
    }

    private void Forget(ulong tag)
    {
        int shift = (int)(tag & 63);
        if (--_liveByShift[shift] == 0)
            _shiftsPresent &= ~(1UL << shift);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Touch(int entry)
    {
        if (entry == _mostRecent)
            return;
        Unlink(entry);
        LinkMostRecent(entry);
    }

    private void Unlink(int entry)
    {
        int newer = _newer[entry], older = _older[entry];
        if (newer != None) _older[newer] = older; else _mostRecent = older;
        if (older != None) _newer[older] = newer; else _leastRecent = newer;
    }

    private void LinkMostRecent(int entry)
    {
        _newer[entry] = None;
        _older[entry] = _mostRecent;
        if (_mostRecent != None)
            _newer[_mostRecent] = entry;
        _mostRecent = entry;
        if (_leastRecent == None)
            _leastRecent = entry;
    }
}
