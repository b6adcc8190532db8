using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.PageTables;

namespace Stage2Lab.Simulation.Invariants;

/// <summary>
/// Checks the invariants of shared/spec/stage2-model.md §6 on a <see cref="KvmVm"/>: everything at once
/// (<see cref="CheckAll"/>), or incrementally after one event — only the IPA range the event changed
/// (<see cref="CheckRange"/>, <see cref="CheckAccess"/>, <see cref="CheckHvaRange"/>). Leaves are compared
/// with the host range by range (one probe per VMA remap-piece edge), never page by page; consecutive leaves
/// mapping consecutive PAs with the same attributes are checked as one range. The per-event path allocates
/// nothing unless it finds a violation (and once per logging session: the record of written pages).
/// <para>
/// The dirty-bitmap invariant needs to know which pages the guest wrote: the checker records the writes it
/// is told about (<see cref="CheckAccess"/> or <see cref="RecordGuestWrite"/>) and forgets them when told of
/// a harvest (<see cref="NoteDirtyLogHarvested"/>, <see cref="NoteDirtyLogCleared"/>). One checker serves one
/// thread; it may watch several VMs.
/// </para>
/// </summary>
public sealed partial class InvariantChecker
{
    // Per-call state: set by Begin, so the traversal helpers need no parameters and no closures.
    private KvmVm? _vm;
    private List<InvariantViolation>? _into;
    private int _eventIndex;
    private DecisionRecord? _decision;
    private int _reportedThisCall;
    private bool _stopped;
    private Vma? _lastVma;
    private Memslot? _lastSlot;
    private ulong _ramLo;
    private ulong _ramHi;
    private bool _ramCached;

    /// <summary>A call stops after this many violations (a fuzzer wants the first one only: 1).</summary>
    public int MaxViolationsPerCall { get; set; } = 1000;

    /// <summary>
    /// Every invariant over the whole VM: every leaf, every table page's refcount, reachability of the pool,
    /// and the recorded writes against each logging slot's dirty bitmap. Returns the number of violations added.
    /// </summary>
    public int CheckAll(KvmVm vm, List<InvariantViolation> into, int eventIndex = -1)
    {
        Begin(vm, into, eventIndex, null);
        ScanRange(0, vm.Stage2.Geometry.IpaLimit, leaves: true, refcounts: true);
        if (!_stopped)
            ScanReachability();
        if (!_stopped)
            CheckRecordedWrites();
        return End();
    }

    /// <summary>
    /// The incremental check after an event that changed [ipa, ipa+size): every leaf overlapping the range
    /// (checked whole) and the refcount of every table page on the way to it. Cost: the tables and leaves of
    /// the range, plus one scan of each table page walked (its entries are counted).
    /// </summary>
    public int CheckRange(KvmVm vm, ulong ipa, ulong sizeBytes, List<InvariantViolation> into, int eventIndex = -1, DecisionRecord? decision = null)
    {
        Begin(vm, into, eventIndex, decision);
        ScanClipped(ipa, sizeBytes, leaves: true, refcounts: true);
        return End();
    }

    /// <summary>
    /// Reachability, whole table: every table descriptor leads to a live page of the next level, no page is
    /// reached twice, and every live pool page is reached. Scans only the tables above the last level
    /// (last-level tables hold no table descriptors), so it costs O(non-last-level tables × entries).
    /// </summary>
    public int CheckTableReachability(KvmVm vm, List<InvariantViolation> into, int eventIndex = -1)
    {
        Begin(vm, into, eventIndex, null);
        ScanReachability();
        return End();
    }

    /// <summary>
    /// The MMU notifier's view of a host change of [hva, hva+size) (munmap, zap): checks the IPA range each
    /// memslot backed by that HVA range maps (kvm_unmap_gfn_range's ranges).
    /// </summary>
    public int CheckHvaRange(KvmVm vm, ulong hva, ulong sizeBytes, List<InvariantViolation> into, int eventIndex = -1)
    {
        Begin(vm, into, eventIndex, null);
        ulong end = hva + sizeBytes < hva ? ulong.MaxValue : hva + sizeBytes;
        ReadOnlySpan<Memslot> slots = vm.Memslots.InIpaOrder;
        for (int i = 0; i < slots.Length && !_stopped; i++)
        {
            Memslot slot = slots[i];
            ulong start = Math.Max(hva, slot.UserspaceAddr);
            ulong stop = Math.Min(end, slot.HvaEnd);
            if (start < stop)
                ScanClipped(slot.IpaOf(start), stop - start, leaves: true, refcounts: true);
        }
        return End();
    }

    /// <summary>
    /// Everything one guest access can break, checked from what it did: the THP rule (the fault consulted
    /// transparent_hugepage_adjust on a device pfn), a block mapped by a fault in a logging slot, the leaves and
    /// tables of the range the fault mapped or relaxed, and — for a write the guest completes (a hit, or a
    /// fault after which the page is writable) — the dirty bitmap for that page.
    /// </summary>
    public int CheckAccess(KvmVm vm, ulong ipa, AccessKind access, in FaultResult result, List<InvariantViolation> into, int eventIndex = -1, DecisionRecord? decision = null)
    {
        Begin(vm, into, eventIndex, decision);
        if (result.TouchedNonRamPage)
            CheckThpOnDevicePfn(in result);

        ulong page = vm.PageSize;
        switch (result.Outcome)
        {
            case FaultOutcome.Mapped:
                {
                    ulong start = result.Ipa & vm.Granule.PageMask;
                    ulong size = Math.Max(result.SizeBytes, page);
                    CheckFaultMappedBlockWhileLogging(start, size);
                    ScanClipped(start, size, leaves: true, refcounts: true);
                    break;
                }
            case FaultOutcome.Relaxed:
                {
                    if (vm.Stage2.GetLeaf(result.Ipa, out Descriptor pte, out int level) == 0 && pte.IsValid)
                    {
                        ulong span = vm.Granule.LevelSize(level);
                        ScanClipped(result.Ipa & ~(span - 1), span, leaves: true, refcounts: true);
                    }
                    break;
                }
            default:
                // An error after the page-table call started may have left a partial change.
                if (result.PgtableErrno != 0 && result.SizeBytes != 0)
                    ScanClipped(result.Ipa & vm.Granule.PageMask, result.SizeBytes, leaves: true, refcounts: true);
                break;
        }

        if (access == AccessKind.Write && !_stopped
            && (result.Outcome == FaultOutcome.Hit || vm.Stage2.Translate(ipa, AccessKind.Write).IsMapped))
            RecordWrite(ipa);
        return End();
    }

    private void Begin(KvmVm vm, List<InvariantViolation> into, int eventIndex, DecisionRecord? decision)
    {
        _vm = vm;
        _into = into;
        _eventIndex = eventIndex;
        _decision = decision;
        _reportedThisCall = 0;
        _stopped = MaxViolationsPerCall <= 0;
        // Lookup caches live for one call only: a munmap replaces Vma objects between events.
        _lastVma = null;
        _lastSlot = null;
        (_ramLo, _ramHi, _ramCached) = (1, 0, false);
    }

    private int End()
    {
        int n = _reportedThisCall;
        _vm = null;
        _into = null;
        _decision = null;
        _lastVma = null;
        _lastSlot = null;
        return n;
    }

    private KvmVm Vm => _vm!;

    private void Report(InvariantKind kind, ulong ipa, ulong sizeBytes, LeafEntry? leaf, string message, int tablePageId = -1)
    {
        if (_probing)
        {
            _probeFailed = true;
            return;
        }
        if (_stopped)
            return;
        _into!.Add(new InvariantViolation(kind, _eventIndex, ipa, sizeBytes, leaf, message) { Decision = _decision, TablePageId = tablePageId });
        if (++_reportedThisCall >= MaxViolationsPerCall)
            _stopped = true;
    }

    /// <summary>gfn_to_memslot, remembering the last slot found in this call.</summary>
    private Memslot? FindSlot(ulong ipa)
    {
        Memslot? last = _lastSlot;
        if (last is not null && last.ContainsIpa(ipa))
            return last;
        Memslot? slot = Vm.Memslots.Find(ipa);
        if (slot is not null)
            _lastSlot = slot;
        return slot;
    }

    /// <summary>vma_lookup, remembering the last VMA found in this call.</summary>
    private Vma? FindVma(ulong hva)
    {
        Vma? last = _lastVma;
        if (last is not null && last.Contains(hva))
            return last;
        Vma? vma = Vm.Host.FindVma(hva);
        if (vma is not null)
            _lastVma = vma;
        return vma;
    }

    /// <summary>The lowest slot IPA above <paramref name="ipa"/>, or ulong.MaxValue.</summary>
    private ulong NextSlotStart(ulong ipa)
    {
        ReadOnlySpan<Memslot> slots = Vm.Memslots.InIpaOrder;
        int lo = 0, hi = slots.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (slots[mid].Ipa <= ipa)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo < slots.Length ? slots[lo].Ipa : ulong.MaxValue;
    }

    /// <summary>The lowest VMA start above <paramref name="hva"/>, or ulong.MaxValue.</summary>
    private ulong NextVmaStart(ulong hva)
    {
        IReadOnlyList<Vma> vmas = Vm.Host.Vmas;
        int lo = 0, hi = vmas.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (vmas[mid].Start <= hva)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo < vmas.Count ? vmas[lo].Start : ulong.MaxValue;
    }
}
