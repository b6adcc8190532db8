using Stage2Lab.Arch;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Tlb;

namespace Stage2Lab.Tests.Tlb;

/// <summary>
/// The guest TLB model written the plain way, for property tests against <see cref="GuestTlbModel"/>'s optimized
/// paths: the same rules (docs/tlb-model.md) with none of the speed: LRU by "last used" stamps in dictionaries,
/// every stage-2 question answered by <see cref="Stage2PageTable.Translate"/>, every region found by a scan, no
/// memo of any kind. It counts the same <see cref="TlbCounters"/>.
/// </summary>
internal sealed class ReferenceTlbModel : ITlbInvalidationListener
{
    private const int Combined = 0, Stage1Table = 1, Stage2Leaf = 2, Stage2Table = 3;

    private readonly TlbProfile _profile;
    private readonly GuestStage1 _guest;
    private readonly Stage2PageTable _stage2;
    private readonly Dictionary<(ulong Block, int Shift), long> _itb = new();
    private readonly Dictionary<(ulong Block, int Shift), long> _dtb = new();
    private readonly Dictionary<(ulong Block, int Kind, int Shift), long>[] _l2;
    private long _time;
    private TlbCounters _counters;

    public ReferenceTlbModel(TlbProfile profile, GuestStage1 guest, Stage2PageTable stage2)
    {
        _profile = profile;
        _guest = guest;
        _stage2 = stage2;
        _l2 = Enumerable.Range(0, profile.L2.Sets).Select(_ => new Dictionary<(ulong, int, int), long>()).ToArray();
    }

    public TlbCounters Counters => _counters;

    public void OnAccessIpa(ulong ipa, AccessKind kind)
    {
        int region = -1;
        for (int i = 0; i < _guest.Regions.Count && region < 0; i++)
        {
            if (ipa >= _guest.Regions[i].Ipa && ipa - _guest.Regions[i].Ipa < _guest.Regions[i].SizeBytes)
                region = i;
        }
        if (region < 0)
        {
            _counters.Add(L1Stat(kind, hit: false));
            _counters.Add(L2Stat(kind, hit: false));
            _counters.Add(TlbStat.Stage1Faults);
            return;
        }
        OnAccess(_guest.Regions[region].Va + (ipa - _guest.Regions[region].Ipa), kind);
    }

    public void OnAccess(ulong gva, AccessKind kind)
    {
        bool exec = kind == AccessKind.Exec;
        Dictionary<(ulong, int), long> l1 = exec ? _itb : _dtb;
        _time++;
        for (int s = 0; s < 64; s++)
        {
            if (l1.ContainsKey((gva >> s, s)))
            {
                l1[(gva >> s, s)] = _time;
                _counters.Add(L1Stat(kind, hit: true));
                return;
            }
        }
        _counters.Add(L1Stat(kind, hit: false));
        if (L2LookupAnySize(gva, Combined, out int l2Shift))
        {
            _counters.Add(L2Stat(kind, hit: true));
            FillL1(gva, exec, l2Shift);
            return;
        }
        _counters.Add(L2Stat(kind, hit: false));
        Walk(gva, kind);
    }

    private void Walk(ulong gva, AccessKind kind)
    {
        int region = -1;
        for (int i = 0; i < _guest.Regions.Count && region < 0; i++)
        {
            if (gva >= _guest.Regions[i].Va && gva - _guest.Regions[i].Va < _guest.Regions[i].SizeBytes)
                region = i;
        }
        if (region < 0)
        {
            _counters.Add(TlbStat.Stage1Faults);
            return;
        }
        GuestRegion r = _guest.Regions[region];
        Granule granule = _guest.Granule;
        int start = _guest.StartLevel, leaf = r.Mapping.LeafLevel();
        _counters.Add(TlbStat.Walks);

        int resume = start;
        bool resumeTablePaKnown = false;
        if (_profile.Stage1WalkCache)
        {
            for (int level = leaf - 1; level >= start; level--)
            {
                if (L2Lookup(gva, Stage1Table, granule.LevelShift(level)))
                {
                    resume = level + 1;
                    resumeTablePaKnown = true;
                    _counters.Add(TlbStat.L2PartialHits);
                    break;
                }
            }
        }
        long refs = 0;
        for (int level = resume; level <= leaf; level++)
        {
            refs++;
            if (level != resume || !resumeTablePaKnown)
                refs += TranslateStage2(_guest.TableIpa(region, level, gva), isTable: true).References;
            if (level < leaf && _profile.Stage1WalkCache)
                InsertL2(gva, Stage1Table, granule.LevelShift(level));
        }
        long refsWithoutCaches = 0;
        for (int level = start; level <= leaf; level++)
        {
            int s2Leaf = RealLeafLevel(_guest.TableIpa(region, level, gva), out _);
            refsWithoutCaches += 1 + (s2Leaf < 0 ? Granule.LastLevel - _stage2.Geometry.StartLevel + 1 : s2Leaf - _stage2.Geometry.StartLevel + 1);
        }
        var final = TranslateStage2(r.Ipa + (gva - r.Va), isTable: false);
        refs += final.References;
        refsWithoutCaches += final.ReferencesWithoutCaches;
        _counters.Add(TlbStat.WalkMemRefs, refs);
        _counters.Add(TlbStat.WalkMemRefsWithoutCaches, refsWithoutCaches);
        _counters.Add(TlbStat.WalksTerminatedAtLevel0 + leaf);
        if (!final.Mapped)
        {
            _counters.Add(TlbStat.Stage2FaultWalks);
            return;
        }
        int combinedShift = Math.Min(r.Mapping.EntryShift(granule), final.LeafShift);
        if (TlbCounters.PageSizeStat(combinedShift) is { } bucket)
            _counters.Add(bucket);
        if (_profile.L2.FitShift(combinedShift) is var l2Shift && l2Shift >= 0)
            InsertL2(gva, Combined, l2Shift);
        FillL1(gva, kind == AccessKind.Exec, combinedShift);
    }

    private (bool Mapped, int LeafShift, int References, int ReferencesWithoutCaches) TranslateStage2(ulong ipa, bool isTable)
    {
        Granule s2 = _stage2.Granule;
        int start = _stage2.Geometry.StartLevel;
        if (_profile.Stage2LeafSizeShifts != 0)
        {
            if (L2LookupAnySize(ipa, Stage2Leaf, out int cachedShift))
            {
                _counters.Add(TlbStat.Stage2Hits);
                return (true, cachedShift, 0, s2.LevelOfSize(1UL << cachedShift) - start + 1);
            }
            _counters.Add(TlbStat.Stage2Misses);
        }
        int leaf = RealLeafLevel(ipa, out int faultLevel);
        if (leaf < 0)
        {
            if (isTable)
            {
                _counters.Add(TlbStat.TableIpaUnmapped);
                int full = Granule.LastLevel - start + 1;
                return (true, s2.PageShift, full, full);
            }
            int toFault = Math.Max(1, faultLevel - start + 1);
            return (false, 0, toFault, toFault);
        }
        int resume = start;
        if (_profile.Stage2WalkCache)
        {
            for (int level = leaf - 1; level >= start; level--)
            {
                if (L2Lookup(ipa, Stage2Table, s2.LevelShift(level)))
                {
                    resume = level + 1;
                    _counters.Add(TlbStat.Stage2PartialHits);
                    break;
                }
            }
            for (int level = resume; level < leaf; level++)
                InsertL2(ipa, Stage2Table, s2.LevelShift(level));
        }
        _counters.Add(TlbStat.Stage2Walks);
        _counters.Add(TlbStat.Stage2WalksTerminatedAtLevel0 + leaf);
        int leafShift = s2.LevelShift(leaf);
        if ((_profile.Stage2LeafSizeShifts >> leafShift & 1) != 0)
        {
            InsertL2(ipa, Stage2Leaf, leafShift);
            _counters.Add(TlbStat.Stage2Inserts);
        }
        return (true, leafShift, leaf - resume + 1, leaf - start + 1);
    }

    /// <summary>The level of the valid leaf (any permission), or -1 and the level of the invalid entry.</summary>
    private int RealLeafLevel(ulong ipa, out int faultLevel)
    {
        Translation t = _stage2.Translate(ipa, AccessKind.Read);
        bool fault = t.Outcome is TranslationOutcome.TranslationFault or TranslationOutcome.AddressSizeFault;
        faultLevel = fault ? t.Level : 0;
        return fault ? -1 : t.Level;
    }

    private void FillL1(ulong gva, bool exec, int entryShift)
    {
        int fit = (exec ? _profile.L1Instruction : _profile.L1Data).FitShift(entryShift);
        if (fit < 0)
            return;
        Dictionary<(ulong, int), long> l1 = exec ? _itb : _dtb;
        if (l1.Count == (exec ? _profile.L1Instruction : _profile.L1Data).Entries)
            l1.Remove(l1.MinBy(e => e.Value).Key);
        l1[(gva >> fit, fit)] = ++_time;
        _counters.Add(exec ? TlbStat.ItbInserts : TlbStat.DtbInserts);
    }

    private Dictionary<(ulong Block, int Kind, int Shift), long> SetOf(ulong address, int shift) =>
        _l2[(int)((address >> shift) % (ulong)_l2.Length)];

    private bool L2Lookup(ulong address, int kind, int shift)
    {
        var set = SetOf(address, shift);
        if (!set.ContainsKey((address >> shift, kind, shift)))
            return false;
        set[(address >> shift, kind, shift)] = ++_time;
        return true;
    }

    private bool L2LookupAnySize(ulong address, int kind, out int shift)
    {
        for (shift = 0; shift < 64; shift++)
        {
            if (L2Lookup(address, kind, shift))
                return true;
        }
        shift = 0;
        return false;
    }

    private void InsertL2(ulong address, int kind, int shift)
    {
        _counters.Add(TlbStat.L2Inserts);
        var set = SetOf(address, shift);
        var key = (address >> shift, kind, shift);
        if (!set.ContainsKey(key) && set.Count == _profile.L2.Ways)
            set.Remove(set.MinBy(e => e.Value).Key);
        set[key] = ++_time;
    }

    private int RemoveL2(Func<(ulong Block, int Kind, int Shift), bool> which)
    {
        int removed = 0;
        foreach (var set in _l2)
        {
            foreach (var key in set.Keys.Where(which).ToList())
            {
                set.Remove(key);
                removed++;
            }
        }
        return removed;
    }

    private static bool IsStage2(int kind) => kind is Stage2Leaf or Stage2Table;

    public void InvalidateStage2Ipa(ulong ipa, int levelHint)
    {
        _counters.Add(TlbStat.L2FlushTlb);
        _counters.Add(TlbStat.L2FlushedEntries, RemoveL2(k => IsStage2(k.Kind) && k.Block == ipa >> k.Shift));
    }

    public void InvalidateStage2Range(ulong ipa, ulong sizeBytes)
    {
        _counters.Add(TlbStat.L2FlushTlb);
        if (sizeBytes == 0)
            return;
        ulong last = ipa + (sizeBytes - 1);
        _counters.Add(TlbStat.L2FlushedEntries, RemoveL2(k =>
            IsStage2(k.Kind) && k.Block << k.Shift <= last && ipa <= (k.Block << k.Shift) + ((1UL << k.Shift) - 1)));
    }

    public void InvalidateStage1All()
    {
        FlushL1s();
        _counters.Add(TlbStat.L2FlushTlb);
        _counters.Add(TlbStat.L2FlushedEntries, RemoveL2(k => !IsStage2(k.Kind)));
    }

    public void InvalidateVmid()
    {
        FlushL1s();
        _counters.Add(TlbStat.L2FlushTlb);
        _counters.Add(TlbStat.L2FlushedEntries, RemoveL2(_ => true));
    }

    private void FlushL1s()
    {
        _counters.Add(TlbStat.ItbFlushTlb);
        _counters.Add(TlbStat.ItbFlushedEntries, _itb.Count);
        _itb.Clear();
        _counters.Add(TlbStat.DtbFlushTlb);
        _counters.Add(TlbStat.DtbFlushedEntries, _dtb.Count);
        _dtb.Clear();
    }

    private static TlbStat L1Stat(AccessKind kind, bool hit) => kind switch
    {
        AccessKind.Read => hit ? TlbStat.DtbReadHits : TlbStat.DtbReadMisses,
        AccessKind.Write => hit ? TlbStat.DtbWriteHits : TlbStat.DtbWriteMisses,
        _ => hit ? TlbStat.ItbInstHits : TlbStat.ItbInstMisses,
    };

    private static TlbStat L2Stat(AccessKind kind, bool hit) => kind switch
    {
        AccessKind.Read => hit ? TlbStat.L2ReadHits : TlbStat.L2ReadMisses,
        AccessKind.Write => hit ? TlbStat.L2WriteHits : TlbStat.L2WriteMisses,
        _ => hit ? TlbStat.L2InstHits : TlbStat.L2InstMisses,
    };
}
