using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Metrics;
using Stage2Lab.Simulation.Playback;

namespace Stage2Lab.Simulation.Runs;

/// <summary>
/// Measures a played timeline phase by phase (fault counts, page-table events, table memory, refusals, estimated
/// host time) and snapshots the final stage 2: the observer behind run and compare. It costs nothing per access:
/// a phase's counts are the difference of the VM's counters across it.
/// </summary>
public sealed class MetricsRecorder : ITimelineObserver
{
    private VmCounters _faultsBefore;
    private Stage2Counters _eventsBefore;
    private PhaseResult? _phase;

    public MetricsRecorder(PolicyRun run) => Run = run;

    public PolicyRun Run { get; }

    public void OnPhaseStart(KvmVm vm, in PhaseInfo phase)
    {
        _phase = new PhaseResult { Name = phase.Name, Kind = phase.Kind, EventNumber = phase.EventNumber };
        _faultsBefore = vm.Counters;
        _eventsBefore = vm.Stage2.Counters;
    }

    public void OnEvent(KvmVm vm, in EventRecord ev)
    {
        if (_phase is null)
            return;
        if (ev.Outcome.Refusal is { } refusal)
            _phase.Refusals.Add(refusal);
        _phase.DirtyPagesHarvested += ev.Outcome.DirtyPagesHarvested;
    }

    public void OnPhaseEnd(KvmVm vm, in PhaseInfo phase)
    {
        PhaseResult p = _phase!;
        p.Faults = vm.Counters - _faultsBefore;
        p.Events = vm.Stage2.Counters - _eventsBefore;
        p.Accesses = (ulong)p.Faults.Accesses;
        for (int level = 0; level < 4; level++)
            p.TablePages[level] = vm.Stage2.LiveTablePages(level);
        p.TableBytes = vm.Stage2.TableBytes;
        p.EstimatedNs = Run.Profile.EstimateNs(p.Faults, p.Events);
        Run.Phases.Add(p);
        _phase = null;
    }

    /// <summary>The final stage 2: leaves by level, runs for the IPA map, tables, dirty pages, slots, VMAs.</summary>
    public void OnFinish(KvmVm vm, int lastEventNumber)
    {
        FinalState final = Run.Final;
        var sink = new LeafRunBuilder(final, vm.Features.Fwb);
        vm.Stage2.VisitLeafBatches(ref sink);
        sink.Flush();
        for (int level = 0; level < 4; level++)
            final.TablePages[level] = vm.Stage2.LiveTablePages(level);
        final.TableBytes = vm.Stage2.TableBytes;
        foreach (Memslot slot in vm.Memslots.InIpaOrder)
        {
            final.DirtyPages += slot.DirtyBitmap?.CountSet() ?? 0;
            Vma? vma = vm.Host.FindVma(slot.UserspaceAddr);
            final.Memslots.Add(new SlotSnapshot(slot.Id, slot.Ipa, slot.SizeBytes, slot.UserspaceAddr, vma?.Name ?? vma?.ToString() ?? "(no VMA)"));
        }
        foreach (Vma vma in vm.Host.Vmas)
            final.Vmas.Add((vma.Start, vma.End, vma.Name ?? ""));
        if (vm.ShadowMmu is { } shadow)
        {
            var count = new LeafLevelCounter(new long[4]);
            shadow.Pgt.VisitLeafBatches(ref count);
            final.ShadowLeaves = count.Leaves;
        }
    }
}
