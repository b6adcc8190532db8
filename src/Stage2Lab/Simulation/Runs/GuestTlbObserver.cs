using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Playback;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Tlb;

namespace Stage2Lab.Simulation.Runs;

/// <summary>
/// Plays every guest access of a run through a <see cref="GuestTlbModel"/> on the VM's own stage 2 and keeps
/// the model's counters phase by phase (after - before), for <see cref="PhaseResult.Tlb"/>.
/// <para>
/// The model is created at the first phase, on the VM the player built, so a VM made fresh for each policy gets a
/// fresh model (empty TLBs, zero counters); it is the stage-2 table's <see cref="PageTables.Stage2PageTable.TlbListener"/>
/// from then on, so every TLBI KVM issues (break-before-make, unmap, MMU notifiers, dirty logging, teardown)
/// reaches it. An access is fed after KVM handled its fault, as the hardware retries the access once the
/// fault handler returns. L2-guest accesses (a `nested:` scenario) are not fed: they are translated by the L2
/// guest's stage 1 and the shadow stage 2, which the `guest:` section does not describe (docs/tlb-model.md).
/// </para>
/// </summary>
public sealed class GuestTlbObserver : ITimelineObserver
{
    private readonly TlbProfile _profile;
    private readonly GuestStage1 _guest;
    private readonly List<TlbCounters> _phases = new();
    private GuestTlbModel? _model;
    private TlbCounters _before;

    public GuestTlbObserver(TlbProfile profile, GuestStage1 guest)
    {
        _profile = profile;
        _guest = guest;
    }

    /// <summary>The guest stage 1 a scenario's <c>guest:</c> section describes (the default section without one).</summary>
    public static GuestStage1 GuestOf(Scenario scenario) =>
        (scenario.Guest ?? new GuestSpec()).Build(scenario.Vm.IpaBits, GuestSpec.MemslotRanges(scenario));

    public bool ObservesAccesses => true;

    /// <summary>Counters of each phase played, in order.</summary>
    public IReadOnlyList<TlbCounters> Phases => _phases;

    /// <summary>The model once the first phase started.</summary>
    public GuestTlbModel? Model => _model;

    public void OnPhaseStart(KvmVm vm, in PhaseInfo phase)
    {
        _model ??= new GuestTlbModel(_profile, _guest, vm.Stage2);
        _before = _model.Counters;
    }

    public void OnAccess(KvmVm vm, in AccessRecord access)
    {
        if (!access.L2Guest)
            _model!.OnAccessIpa(access.Ipa, access.Access);
    }

    public void OnPhaseEnd(KvmVm vm, in PhaseInfo phase) => _phases.Add(_model!.Counters - _before);

    /// <summary>Copies the phases' counters into the run (one per <see cref="PolicyRun.Phases"/> entry) and stops
    /// listening to the stage 2.</summary>
    public void Complete(PolicyRun run)
    {
        run.TlbProfile = _profile;
        for (int i = 0; i < run.Phases.Count && i < _phases.Count; i++)
        {
            run.Phases[i].Tlb = _phases[i];
            run.Phases[i].EstimatedGuestNs = _profile.EstimateNs(_phases[i]);
        }
        _model?.Detach();
    }
}
