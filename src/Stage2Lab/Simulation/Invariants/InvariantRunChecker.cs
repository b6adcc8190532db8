using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Playback;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Invariants;

/// <summary>
/// The invariant checker as a timeline observer: after every access it checks what the access changed
/// (<see cref="InvariantChecker.CheckAccess"/>); after an event that can change many mappings, what the event
/// can have changed; after memslot creation and at the end, everything. Each violation is kept once, under the
/// event that made it.
/// </summary>
public sealed class InvariantRunChecker : ITimelineObserver
{
    private readonly InvariantChecker _checker;
    private readonly List<InvariantViolation> _found = new();
    private readonly HashSet<(InvariantKind, ulong, ulong)> _seen = new();
    private readonly PlaybackControl? _stopOnViolation;
    private bool _tornDown;

    /// <param name="maxViolations">Stop collecting after this many (a fuzzer wants the first one).</param>
    /// <param name="stopOnViolation">When given, the playing is stopped at the first violation.</param>
    /// <param name="checker">The checker to use: a thread that checks many runs one after another keeps one (its
    /// scratch buffers then serve them all); null: a new one.</param>
    public InvariantRunChecker(int maxViolations = 100, PlaybackControl? stopOnViolation = null, InvariantChecker? checker = null)
    {
        _checker = checker ?? new InvariantChecker();
        MaxViolations = maxViolations;
        _checker.MaxViolationsPerCall = maxViolations;
        _stopOnViolation = stopOnViolation;
    }

    public int MaxViolations { get; }

    /// <summary>Only violations this accepts count (e.g. one invariant a campaign is looking for).</summary>
    public Func<InvariantViolation, bool>? Filter { get; init; }

    public List<InvariantViolation> Violations { get; } = new();

    /// <summary>The global access index of the access that caused the first violation, if an access did.</summary>
    public long? FirstViolatingAccess { get; private set; }

    /// <summary>The decision of the fault that caused the first violation (when the player explained faults).</summary>
    public DecisionRecord? FirstViolatingFault { get; private set; }

    /// <summary>The timeline event (1-based; 0 = memslot creation) of the first violation.</summary>
    public int? FirstViolatingEvent { get; private set; }

    public bool Failed => Violations.Count > 0;

    /// <summary>Events looked at (accesses and other events).</summary>
    public long EventsChecked { get; private set; }

    public bool ObservesAccesses => true;

    public void OnAccess(KvmVm vm, in AccessRecord access)
    {
        EventsChecked++;
        // The invariants are about the canonical stage 2; an L2 guest's access maps into a shadow one.
        if (Violations.Count >= MaxViolations || access.L2Guest)
            return;
        _found.Clear();
        FaultResult result = access.Result;
        _checker.CheckAccess(vm, access.Ipa, access.Access, result, _found, access.EventNumber, access.Decision);
        if (_found.Count > 0)
            Collect(access.EventNumber, access.AccessIndex, access.Decision);
    }

    public void OnEvent(KvmVm vm, in EventRecord ev)
    {
        // Memslots created in phase 0 are checked together when the phase ends.
        if (ev.EventNumber == 0)
            return;
        // After a teardown there is no stage 2 to check. kvm_pgtable_stage2_destroy puts every counted entry
        // (stage2_free_walker), freeing the tables below the root, then frees the root pages themselves
        // (pgd freed, pgt->pgd = NULL); the model's DestroyRange keeps the root pages, and a leaf that sits in a
        // root entry (a 1G block with a level-1 start, a 2M block with a level-2 start) is put but not cleared,
        // leaving a root whose refcount no longer matches its entries. That root does not exist in the kernel,
        // so checking it (TableRefcounts) misjudged valid runs. Everything was checked just before the teardown
        // (OnFinish), as for the implicit teardown at the end of a run.
        if (ev.Event is TeardownEvent)
        {
            _tornDown = true;
            return;
        }
        EventsChecked++;
        switch (ev.Event)
        {
            case GetDirtyLogEvent g when ev.Outcome.Refusal is null:
                _checker.NoteDirtyLogHarvested(vm, g.SlotId);
                break;
            case ClearDirtyLogEvent c when ev.Outcome.Refusal is null:
                _checker.NoteDirtyLogCleared(vm, c.SlotId, ev.Outcome.ClearFirstPage, ev.Outcome.ClearNumPages);
                break;
        }
        if (Violations.Count >= MaxViolations)
            return;
        _found.Clear();
        // Check what the event can have changed: one slot for dirty logging, an HVA range for the MMU notifier
        // (plus table reachability where table pages may have been freed), everything for memslot changes.
        switch (ev.Event)
        {
            case DirtyLogEvent or GetDirtyLogEvent or ClearDirtyLogEvent:
                {
                    int id = ev.Event switch { DirtyLogEvent d => d.SlotId, GetDirtyLogEvent g => g.SlotId, _ => ((ClearDirtyLogEvent)ev.Event).SlotId };
                    if (vm.Memslots.ById(id) is { } slot)
                        _checker.CheckRange(vm, slot.Ipa, slot.SizeBytes, _found, ev.EventNumber);
                    break;
                }
            case UnmapEvent u:
                _checker.CheckHvaRange(vm, u.Hva, u.SizeBytes, _found, ev.EventNumber);
                _checker.CheckTableReachability(vm, _found, ev.EventNumber);
                break;
            case AgeEvent a:
                _checker.CheckHvaRange(vm, a.Hva, a.SizeBytes, _found, ev.EventNumber);
                break;
            default:
                _checker.CheckAll(vm, _found, ev.EventNumber);
                break;
        }
        if (_found.Count > 0)
            Collect(ev.EventNumber, null, null);
    }

    public void OnPhaseEnd(KvmVm vm, in PhaseInfo phase)
    {
        if (phase.EventNumber != 0)
            return;
        EventsChecked++;
        if (Violations.Count >= MaxViolations)
            return;
        _found.Clear();
        _checker.CheckAll(vm, _found, 0);
        if (_found.Count > 0)
            Collect(0, null, null);
    }

    /// <summary>Everything, once (the end of a run): what an event-by-event check can only see whole.</summary>
    public void OnFinish(KvmVm vm, int lastEventNumber)
    {
        if (Violations.Count >= MaxViolations || _tornDown)
            return;
        _found.Clear();
        _checker.CheckAll(vm, _found, lastEventNumber);
        if (_found.Count > 0)
            Collect(lastEventNumber, null, null);
    }

    private void Collect(int eventNumber, long? accessIndex, DecisionRecord? decision)
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
                    FirstViolatingFault = decision;
                }
                Violations.Add(v);
            }
        }
        if (Failed)
            _stopOnViolation?.Stop();
    }
}
