using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Invariants;

/// <summary>
/// Runs the invariant checker after every access and event of a scenario run: an access checks what it changed
/// (<see cref="InvariantChecker.CheckAccess"/>); an event that can change many mappings checks them all.
/// </summary>
public sealed class InvariantRunChecker : IRunChecker
{
    private readonly InvariantChecker _checker = new();
    private readonly List<InvariantViolation> _found = new();
    private readonly HashSet<(InvariantKind, ulong, ulong)> _seen = new();

    /// <param name="maxViolations">Stop collecting after this many (a fuzzer wants the first one).</param>
    public InvariantRunChecker(int maxViolations = 100)
    {
        MaxViolations = maxViolations;
        _checker.MaxViolationsPerCall = maxViolations;
    }

    public int MaxViolations { get; }

    /// <summary>Only violations this accepts count (e.g. one invariant a campaign is looking for).</summary>
    public Func<InvariantViolation, bool>? Filter { get; init; }

    public List<InvariantViolation> Violations { get; } = new();

    /// <summary>The global access index of the access that caused the first violation, if an access did.</summary>
    public long? FirstViolatingAccess { get; private set; }

    /// <summary>The timeline event (1-based; 0 = memslot creation) of the first violation.</summary>
    public int? FirstViolatingEvent { get; private set; }

    public bool Failed => Violations.Count > 0;

    /// <summary>Events looked at (accesses and other events).</summary>
    public long EventsChecked { get; private set; }

    public void AfterAccess(KvmVm vm, ulong ipa, AccessKind access, in FaultResult result, int eventNumber, long accessIndex)
    {
        EventsChecked++;
        if (Violations.Count >= MaxViolations)
            return;
        _found.Clear();
        _checker.CheckAccess(vm, ipa, access, result, _found, eventNumber);
        if (_found.Count > 0)
            Collect(eventNumber, accessIndex);
    }

    public void AfterEvent(KvmVm vm, TimelineEvent? ev, int eventNumber)
    {
        EventsChecked++;
        // After a teardown there is no stage 2 to check. kvm_pgtable_stage2_destroy puts every counted entry
        // (stage2_free_walker), freeing the tables below the root, then frees the root pages themselves
        // (pgd freed, pgt->pgd = NULL); the model's DestroyRange keeps the root pages, and a leaf that sits in a
        // root entry (a 1G block with a level-1 start, a 2M block with a level-2 start) is put but not cleared,
        // leaving a root whose refcount no longer matches its entries. That root does not exist in the kernel,
        // so checking it (TableRefcounts) misjudged valid runs. Everything was checked just before the teardown
        // (Finish), as for the implicit teardown at the end of a run.
        if (ev is TeardownEvent)
            return;
        switch (ev)
        {
            case GetDirtyLogEvent g:
                _checker.NoteDirtyLogHarvested(vm, g.SlotId);
                break;
            case ClearDirtyLogEvent c:
                _checker.NoteDirtyLogCleared(vm, c.SlotId, c.FirstPage, c.NumPages != 0 ? c.NumPages : vm.Memslots.ById(c.SlotId)?.NPages ?? 0);
                break;
        }
        if (Violations.Count >= MaxViolations)
            return;
        _found.Clear();
        // Check what the event can have changed: one slot for dirty logging, an HVA range for the MMU notifier
        // (plus table reachability where table pages may have been freed), everything for memslot changes.
        switch (ev)
        {
            case DirtyLogEvent or GetDirtyLogEvent or ClearDirtyLogEvent:
            {
                int id = ev switch { DirtyLogEvent d => d.SlotId, GetDirtyLogEvent g => g.SlotId, _ => ((ClearDirtyLogEvent)ev).SlotId };
                if (vm.Memslots.ById(id) is { } slot)
                    _checker.CheckRange(vm, slot.Ipa, slot.SizeBytes, _found, eventNumber);
                break;
            }
            case UnmapEvent u:
                _checker.CheckHvaRange(vm, u.Hva, u.SizeBytes, _found, eventNumber);
                _checker.CheckTableReachability(vm, _found, eventNumber);
                break;
            case AgeEvent a:
                _checker.CheckHvaRange(vm, a.Hva, a.SizeBytes, _found, eventNumber);
                break;
            default:
                _checker.CheckAll(vm, _found, eventNumber);
                break;
        }
        if (_found.Count > 0)
            Collect(eventNumber, null);
    }

    /// <summary>Everything, once (the end of a run): what an event-by-event check can only see whole.</summary>
    public void Finish(KvmVm vm, int eventNumber)
    {
        if (Violations.Count >= MaxViolations)
            return;
        _found.Clear();
        _checker.CheckAll(vm, _found, eventNumber);
        if (_found.Count > 0)
            Collect(eventNumber, null);
    }

    private void Collect(int eventNumber, long? accessIndex)
    {
        foreach (InvariantViolation v in _found)
        {
            if (Violations.Count >= MaxViolations)
                break;
            if (Filter is not null && !Filter(v))
                continue;
            // A broken mapping stays broken: report it once, under the event that made it.
            if (_seen.Add((v.Kind, v.Ipa, v.SizeBytes)))
            {
                if (Violations.Count == 0)
                {
                    FirstViolatingEvent = eventNumber;
                    FirstViolatingAccess = accessIndex;
                }
                Violations.Add(v);
            }
        }
    }
}
