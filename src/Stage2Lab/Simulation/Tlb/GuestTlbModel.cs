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
    private const int CombinedOnly = 1 << (int)TlbEntryKind.Combined;
    private const int Stage1Kinds = (1 << (int)TlbEntryKind.Combined) | (1 << (int)TlbEntryKind.Stage1Table);
    private const int Stage2Kinds = (1 << (int)TlbEntryKind.Stage2Leaf) | (1 << (int)TlbEntryKind.Stage2Table);
    private const int AllKinds = Stage1Kinds | Stage2Kinds;

    private readonly TlbArray _itb;
    private readonly TlbArray _dtb;
    private readonly TlbArray _l2;
    private readonly int[] _itbFit = new int[64];
    private readonly int[] _dtbFit = new int[64];
    private readonly int[] _l2Fit = new int[64];
    private TlbCounters _counters;

    public GuestTlbModel(TlbProfile profile, GuestStage1 guest, Stage2PageTable stage2)
    {
        Profile = profile;
        Guest = guest;
        Stage2 = stage2;
        _itb = new TlbArray(profile.L1Instruction.Entries, profile.L1Instruction.Ways);
        _dtb = new TlbArray(profile.L1Data.Entries, profile.L1Data.Ways);
        _l2 = new TlbArray(profile.L2.Entries, profile.L2.Ways);
        for (int shift = 0; shift < 64; shift++)
        {
            _itbFit[shift] = profile.L1Instruction.FitShift(shift);
            _dtbFit[shift] = profile.L1Data.FitShift(shift);
            _l2Fit[shift] = profile.L2.FitShift(shift);
        }
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
        TlbArray l1 = exec ? _itb : _dtb;
        if (l1.LookupAnySize(gva, TlbEntryKind.Combined, out _))
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
        foreach (var (a, name) in new[] { (_itb, Profile.L1Instruction.Name), (_dtb, Profile.L1Data.Name), (_l2, Profile.L2.Name) })
        {
            foreach (var (kind, start, shift) in a.Entries())
                yield return (name, KindName(kind), start, 1UL << shift);
        }
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
        (exec ? _itb : _dtb).Insert(gva, TlbEntryKind.Combined, fit);
        _counters.Add(exec ? TlbStat.ItbInserts : TlbStat.DtbInserts);
    }
}
