using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Playback;

/// <summary>A phase of a played timeline: memslot creation (event 0), one timeline event, or the implicit teardown.</summary>
public readonly record struct PhaseInfo(string Name, string Kind, int EventNumber, TimelineEvent? Event);

/// <summary>One guest access as it was played (<paramref name="L2Guest"/>: the L2 guest's, at an L2 IPA through the shadow stage 2).</summary>
public readonly record struct AccessRecord(ulong Ipa, AccessKind Access, FaultResult Result, int EventNumber, long AccessIndex, DecisionRecord? Decision, bool L2Guest = false);

/// <summary>
/// One non-access event as it was played (a memslot created in phase 0, or a timeline event), with what KVM or
/// the host did about it.
/// </summary>
public readonly record struct EventRecord(TimelineEvent Event, int EventNumber, EventOutcome Outcome, DecisionRecord? Decision);

/// <summary>
/// Sees a timeline as <see cref="TimelinePlayer"/> plays it. Metrics, the invariant checker, decision capture and
/// explain are observers; every method has an empty default so each implements only what it needs.
/// </summary>
public interface ITimelineObserver
{
    /// <summary>Whether <see cref="OnAccess"/> must be called (the player skips observers that say no on the hot path).</summary>
    bool ObservesAccesses => false;

    void OnPhaseStart(KvmVm vm, in PhaseInfo phase)
    {
    }

    void OnAccess(KvmVm vm, in AccessRecord access)
    {
    }

    void OnEvent(KvmVm vm, in EventRecord ev)
    {
    }

    void OnPhaseEnd(KvmVm vm, in PhaseInfo phase)
    {
    }

    /// <summary>The timeline is over (or stopped); the VM is not torn down yet.</summary>
    void OnFinish(KvmVm vm, int lastEventNumber)
    {
    }
}

/// <summary>Lets an observer stop the playing (a checker that found what it looks for).</summary>
public sealed class PlaybackControl
{
    public bool StopRequested { get; private set; }

    public void Stop() => StopRequested = true;
}
