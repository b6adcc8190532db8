using System.Runtime.CompilerServices;
using Stage2Lab.Arch;
using Stage2Lab.PageTables;

namespace Stage2Lab.Simulation.Tlb;

/// <summary>
/// The guest's TLBs and nested walker for one vCPU: what each guest access costs in translation, given the
/// guest's stage 1 and the VM's real stage-2 table. A timeline player calls <see cref="OnAccess"/> (or
/// <see cref="OnAccessIpa"/>) once per guest access, after the VM has handled any stage-2 fault for it; the
/// model subscribes to the stage-2 table's TLB invalidations (<see cref="Stage2PageTable.TlbListener"/>), so a
/// break-before-make, an unmap or a dirty-log flush removes exactly the entries it covers.
/// <para>
/// Lookup order (Cortex-A76 TRM A5.4): the L1 TLB of the access's side, then the L2, then a walk. A walk fills
/// the L2 with the combined entry and the L1 with the part of it the L1 can hold. Counters are cumulative;
/// a phase is <c>after - before</c> of <see cref="Counters"/>. Nothing on the access path allocates.
/// </para>
/// </summary>
public sealed partial class GuestTlbModel : ITlbInvalidationListener
{
    private const int Stage1Kinds = (1 << (int)TlbEntryKind.Combined) | (1 << (int)TlbEntryKind.Stage1Table);
    private const int Stage2Kinds = (1 << (int)TlbEntryKind.Stage2Leaf) | (1 << (int)TlbEntryKind.Stage2Table);
    private const int AllKinds = Stage1Kinds | Stage2Kinds;

    private readonly FullyAssociativeTlb _itb;
    private readonly FullyAssociativeTlb _dtb;
    private readonly TlbArray _l2;
    private readonly int[] _itbFit = new int[64];
    private readonly int[] _dtbFit = new int[64];
    private readonly int[] _l2Fit = new int[64];
    private readonly Stage2LeafMemo _stage2Leaves;
    private const int PathMemoBits = 13;
    private const int PathMemoEntries = 1 << PathMemoBits;
    private readonly PathMemoSlot[] _pathMemo = new PathMemoSlot[PathMemoEntries];
    private readonly bool _memoize;

    // The profile's switches and both stages' level arithmetic, read once instead of per walk step.
    private readonly bool _stage1WalkCache;
    private readonly bool _stage2WalkCache;
    private readonly ulong _stage2LeafShifts;
    private readonly int _s1Start;
    private readonly int _s2Start;
    private readonly int[] _s1Shifts = new int[Granule.LastLevel + 1];
    private readonly int[] _s2Shifts = new int[Granule.LastLevel + 1];
    private readonly int[] _s2LevelOfShift = new int[64];
    private readonly int[] _pageSizeStats = new int[64];
    private TlbCounters _counters;

    public GuestTlbModel(TlbProfile profile, GuestStage1 guest, Stage2PageTable stage2)
        : this(profile, guest, stage2, memoizeStage2: true)
    {
    }

    /// <param name="memoizeStage2">False: read the stage-2 table on every walk step (no simulator-side memo).</param>
    internal GuestTlbModel(TlbProfile profile, GuestStage1 guest, Stage2PageTable stage2, bool memoizeStage2)
    {
        Profile = profile;
        Guest = guest;
        Stage2 = stage2;
        if (profile.L1Instruction.Ways != profile.L1Instruction.Entries || profile.L1Data.Ways != profile.L1Data.Entries)
            throw new ArgumentException($"profile {profile.Name}: the L1 TLBs are modelled fully associative (ways = entries)");
        _itb = new FullyAssociativeTlb(profile.L1Instruction.Entries);
        _dtb = new FullyAssociativeTlb(profile.L1Data.Entries);
        _l2 = new TlbArray(profile.L2.Entries, profile.L2.Ways);
        for (int shift = 0; shift < 64; shift++)
        {
            _itbFit[shift] = profile.L1Instruction.FitShift(shift);
            _dtbFit[shift] = profile.L1Data.FitShift(shift);
            _l2Fit[shift] = profile.L2.FitShift(shift);
            _pageSizeStats[shift] = TlbCounters.PageSizeStat(shift) is { } bucket ? (int)bucket : -1;
        }
        _stage1WalkCache = profile.Stage1WalkCache;
        _stage2WalkCache = profile.Stage2WalkCache;
        _stage2LeafShifts = profile.Stage2LeafSizeShifts;
        _s1Start = guest.StartLevel;
        _s2Start = stage2.Geometry.StartLevel;
        Array.Fill(_s2LevelOfShift, -1);
        for (int level = 0; level <= Granule.LastLevel; level++)
        {
            _s1Shifts[level] = guest.Granule.LevelShift(level);
            _s2Shifts[level] = stage2.Granule.LevelShift(level);
            _s2LevelOfShift[_s2Shifts[level]] = level;
        }
        _stage2Leaves = new Stage2LeafMemo(stage2, memoizeStage2);
        _memoize = memoizeStage2;
        stage2.TlbListener = this;
    }

    public TlbProfile Profile { get; }

    public GuestStage1 Guest { get; }

    public Stage2PageTable Stage2 { get; }

    /// <summary>Everything counted so far (a copy: subtract two snapshots for a phase).</summary>
    public TlbCounters Counters => _counters;

    /// <summary>Estimated translation time of a phase's counts under this profile's costs.</summary>
    public double EstimateNs(in TlbCounters phase) => Profile.EstimateNs(phase);

    /// <summary>A guest access to virtual address <paramref name="gva"/>.</summary>
    public void OnAccess(ulong gva, AccessKind kind)
    {
        bool exec = kind == AccessKind.Exec;
        FullyAssociativeTlb l1 = exec ? _itb : _dtb;
        if (l1.LookupAnySize(gva, out _))
        {
            _counters.Add(kind switch { AccessKind.Read => TlbStat.DtbReadHits, AccessKind.Write => TlbStat.DtbWriteHits, _ => TlbStat.ItbInstHits });
            return;
        }
        _counters.Add(kind switch { AccessKind.Read => TlbStat.DtbReadMisses, AccessKind.Write => TlbStat.DtbWriteMisses, _ => TlbStat.ItbInstMisses });
        if (_l2.LookupAnySize(gva, TlbEntryKind.Combined, out int l2Shift))
        {
            _counters.Add(kind switch { AccessKind.Read => TlbStat.L2ReadHits, AccessKind.Write => TlbStat.L2WriteHits, _ => TlbStat.L2InstHits });
            FillL1(gva, exec, l2Shift);
            return;
        }
        _counters.Add(kind switch { AccessKind.Read => TlbStat.L2ReadMisses, AccessKind.Write => TlbStat.L2WriteMisses, _ => TlbStat.L2InstMisses });
        Walk(gva, kind);
    }

    /// <summary>A guest access to intermediate physical address <paramref name="ipa"/>, made through the VA the
    /// guest's stage 1 maps it at (the first region holding it); an IPA no region maps counts as a stage-1 fault.</summary>
    public void OnAccessIpa(ulong ipa, AccessKind kind)
    {
        if (Guest.FindIpa(ipa, out ulong gva) < 0)
        {
            // As the hardware sees it: both TLBs miss and the walk finds no stage-1 mapping.
            _counters.Add(kind switch { AccessKind.Read => TlbStat.DtbReadMisses, AccessKind.Write => TlbStat.DtbWriteMisses, _ => TlbStat.ItbInstMisses });
            _counters.Add(kind switch { AccessKind.Read => TlbStat.L2ReadMisses, AccessKind.Write => TlbStat.L2WriteMisses, _ => TlbStat.L2InstMisses });
            _counters.Add(TlbStat.Stage1Faults);
            return;
        }
        OnAccess(gva, kind);
    }

    /// <summary>Empties every TLB and zeroes the counters (a fresh vCPU).</summary>
    public void Reset()
    {
        _itb.Clear();
        _dtb.Clear();
        _l2.Clear();
        _stage2Leaves.Forget();
        Array.Clear(_pathMemo);
        _counters = default;
    }

    /// <summary>Stops listening to the stage-2 table's invalidations.</summary>
    public void Detach()
    {
        if (ReferenceEquals(Stage2.TlbListener, this))
            Stage2.TlbListener = null;
    }

    /// <summary>The entries each array holds, as (array, kind, start address, size), for tests and dumps.</summary>
    public IEnumerable<(string Array, string Kind, ulong Start, ulong SizeBytes)> Entries()
    {
        foreach (var (l1, name) in new[] { (_itb, Profile.L1Instruction.Name), (_dtb, Profile.L1Data.Name) })
        {
            foreach (var (start, shift) in l1.Entries())
                yield return (name, KindName(TlbEntryKind.Combined), start, 1UL << shift);
        }
        foreach (var (kind, start, shift) in _l2.Entries())
            yield return (Profile.L2.Name, KindName(kind), start, 1UL << shift);
    }

    /// <summary>The first inconsistency inside the arrays (index, recency lists, live counts), or null.</summary>
    internal string? Problems()
    {
        return _itb.Problems() is { } i ? $"{Profile.L1Instruction.Name}: {i}"
            : _dtb.Problems() is { } d ? $"{Profile.L1Data.Name}: {d}"
            : _l2.Problems() is { } l ? $"{Profile.L2.Name}: {l}"
            : null;
    }

    internal static string KindName(TlbEntryKind kind) => kind switch
    {
        TlbEntryKind.Combined => "va->pa",
        TlbEntryKind.Stage1Table => "s1-table",
        TlbEntryKind.Stage2Leaf => "ipa->pa",
        _ => "s2-table",
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void FillL1(ulong gva, bool exec, int entryShift)
    {
        int fit = (exec ? _itbFit : _dtbFit)[entryShift];
        if (fit < 0)
            return;
        (exec ? _itb : _dtb).Insert(gva, fit);
        _counters.Add(exec ? TlbStat.ItbInserts : TlbStat.DtbInserts);
    }
}
