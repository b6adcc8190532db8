using System.Runtime.CompilerServices;
using Stage2Lab.Arch;

namespace Stage2Lab.PageTables;

/// <summary>
/// A simulator-side memo of recent stage-2 hits, so that an access to a leaf just hit does not walk the table
/// again: the model's own shortcut, not a TLB (it is no part of the modelled hardware and changes no count). It
/// remembers valid leaves whose access flag is set (so a hit through it changes nothing in the table, exactly as
/// <see cref="Stage2PageTable.Access"/> on such a leaf changes nothing), with the accesses their S2AP/XN allow,
/// and is valid only while the table's <see cref="Stage2PageTable.Generation"/> is the one it was filled at:
/// any descriptor write (map, unmap, permission or attribute change, split, AF clear by aging, the hardware's AF
/// set, teardown) forgets everything at once. Anything not remembered (a fault, a permission the leaf does not
/// give, a leaf evicted by another, a leaf of another size than the last) goes the full way.
/// <para>
/// Direct-mapped, one array per leaf level indexed by the number of the leaf-sized block, and only the level of
/// the last leaf is probed: a phase's accesses mostly meet leaves of one size, and a miss (a workload spread over
/// more blocks than the memo holds) then costs one load more than the walk. An entry is one word, so the memo
/// of a level is 64 KiB: nothing is allocated after a level's first leaf.
/// </para>
/// </summary>
internal sealed class Stage2HitMemo
{
    /// <summary>Entries per leaf level (a power of two): 16 GiB of 2M blocks, each in its own entry. With 2,048, the GPU
    /// example's Zipf phase over 16 GiB of RAM collided often enough to cost 12.4 ms per million accesses; 7.7 ms now.</summary>
    internal const int EntriesPerLevel = 8192;

    // A workload spread over more leaves than the memo holds (random accesses over a 32 GiB BAR of 2M blocks)
    // misses nearly always, and each miss costs a probe and a fill on top of the walk: when fewer than half of a
    // window's probes hit, the memo rests (neither probes nor fills) for a while, then tries again.
    private const int WindowProbes = 256;
    private const int RestAccesses = 8192;

    private const int Levels = Granule.LastLevel + 1;

    // An entry: the leaf's block number (at most 2^40: IPAs are below 2^52, leaves at least 4K), the accesses it
    // allows (bit k: AccessKind k) and the epoch it was filled in, the memo's count of table generations seen.
    private const int EpochBits = 21;
    private const ulong EpochMask = (1UL << EpochBits) - 1;
    private const int AllowedShift = EpochBits;
    private const int BlockShift = EpochBits + 3;
    private const ulong AllowedMask = 7UL << AllowedShift;

    private readonly Stage2PageTable _table;
    private readonly ulong _ipaLimit;
    private readonly int[] _levelShifts = new int[Levels];
    private readonly ulong[]?[] _entries = new ulong[Levels][];
    private long _generation = -1;
    private ulong _epoch;

    // The level of the last leaf remembered, its entries and its shift: the one level probed.
    private ulong[]? _lastEntries;
    private int _lastShift;

    // Hits and probes in the current window of WindowProbes probes, and the accesses left to let through unprobed.
    private int _windowHits;
    private int _windowProbes;
    private int _resting;

    public Stage2HitMemo(Stage2PageTable table)
    {
        _table = table;
        _ipaLimit = table.Geometry.IpaLimit;
        for (int level = 0; level < Levels; level++)
            _levelShifts[level] = table.Granule.LevelShift(level);
    }

    /// <summary>Whether the memo lets accesses through unprobed for now (its recent probes mostly missed).</summary>
    public bool Resting => _resting > 0;

    /// <summary>Whether <paramref name="ipa"/> lies in a remembered leaf that allows <paramref name="access"/>:
    /// the access is then a hit that changes nothing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Hits(ulong ipa, AccessKind access)
    {
        if (_resting > 0)
        {
            _resting--;
            return false;
        }
        if (_table.Generation != _generation)
        {
            // The table changed since the memo was filled: everything in it may be stale.
            NextEpoch();
            return false;
        }
        ulong[]? entries = _lastEntries;
        if (entries is null || ipa >= _ipaLimit)
            return false;
        ulong block = ipa >> _lastShift;
        ulong entry = entries[(int)(block & (EntriesPerLevel - 1))];
        ulong differs = entry ^ ((block << BlockShift) | _epoch);
        bool hit = (differs & ~AllowedMask) == 0 && (entry & (1UL << (AllowedShift + (int)access))) != 0;
        if (hit)
            _windowHits++;
        if (++_windowProbes == WindowProbes)
            EndWindow();
        return hit;
    }

    /// <summary>
    /// <see cref="Hits"/> for accesses one after another, as many as hit: returns n, the accesses [0, n) are hits
    /// and, when n is short of the length, access n has been probed (exactly as <see cref="Hits"/> would) and
    /// must walk. The state ends as after n + 1 calls of <see cref="Hits"/> (n when all hit), but the run of hits
    /// is checked in one loop with the memo's state in registers: a workload's hits (millions per run on a Zipf
    /// working set) cost a load and a compare each.
    /// </summary>
    public int CountHits(ReadOnlySpan<ulong> ipas, ReadOnlySpan<AccessKind> kinds)
    {
        if (ipas.Length == 0)
            return 0;
        if (_resting > 0)
        {
            _resting--;
            return 0;
        }
        if (_table.Generation != _generation)
        {
            NextEpoch();
            return 0;
        }
        ulong[]? entries = _lastEntries;
        if (entries is null)
            return 0;
        int shift = _lastShift;
        ulong epoch = _epoch;
        ulong limit = _ipaLimit;
        int windowHits = _windowHits;
        int windowProbes = _windowProbes;
        kinds = kinds[..ipas.Length];
        int n = 0;
        bool rest = false;
        bool hit = false;
        while (n < ipas.Length)
        {
            ulong ipa = ipas[n];
            if (ipa >= limit)
                break;
            ulong block = ipa >> shift;
            ulong entry = entries[(int)(block & (EntriesPerLevel - 1))];
            hit = ((entry ^ ((block << BlockShift) | epoch)) & ~AllowedMask) == 0
                && (entry & (1UL << (AllowedShift + (int)kinds[n]))) != 0;
            if (hit)
            {
                windowHits++;
                n++;
            }
            if (++windowProbes == WindowProbes)
            {
                rest = windowHits < WindowProbes / 2;
                windowHits = 0;
                windowProbes = 0;
                if (rest)
                    break;
            }
            if (!hit)
                break;
        }
        _windowHits = windowHits;
        _windowProbes = windowProbes;
        if (rest)
        {
            _resting = RestAccesses;
            // A window that ended on a hit: the next access is let through unprobed, as Hits would.
            if (hit && n < ipas.Length)
                _resting--;
        }
        return n;
    }

    private void EndWindow()
    {
        if (_windowHits < WindowProbes / 2)
            _resting = RestAccesses;
        _windowHits = 0;
        _windowProbes = 0;
    }

    /// <summary>Remembers the leaf a hit just went through, once the walk (and its AF set) is done.</summary>
    public void Remember(ulong ipa, in Translation hit)
    {
        if (!hit.IsMapped || _resting > 0)
            return;
        if (_table.Generation != _generation)
            NextEpoch();
        int level = hit.Level;
        ulong[] entries = _entries[level] ??= new ulong[EntriesPerLevel];
        ulong pte = hit.Leaf.Raw;
        ulong allowed = ((pte & Descriptor.S2apR) != 0 ? 1UL << (int)AccessKind.Read : 0)
            | ((pte & Descriptor.S2apW) != 0 ? 1UL << (int)AccessKind.Write : 0)
            | ((pte & Descriptor.XnMask) == 0 ? 1UL << (int)AccessKind.Exec : 0);
        ulong block = ipa >> _levelShifts[level];
        entries[(int)(block & (EntriesPerLevel - 1))] = (block << BlockShift) | (allowed << AllowedShift) | _epoch;
        _lastEntries = entries;
        _lastShift = _levelShifts[level];
    }

    private void NextEpoch()
    {
        _generation = _table.Generation;
        _epoch++;
        if (_epoch <= EpochMask)
            return;
        // Epochs wrapped: entries of the epoch that now comes round again must not be taken for new ones.
        foreach (ulong[]? entries in _entries)
        {
            if (entries is not null)
                Array.Clear(entries);
        }
        _epoch = 1;
    }
}
