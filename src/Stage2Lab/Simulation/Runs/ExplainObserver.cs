using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Playback;

namespace Stage2Lab.Simulation.Runs;

/// <summary>
/// Finds the decision `explain --ipa ADDR [--event N]` asks for: the first fault (in event N, if given) on the
/// IPA's page, or that mapped a leaf covering it; with none in event N, the first such fault in another event
/// (marked as outside the asked event); when there is none at all, a read issued after the last event.
/// Needs the player to explain every fault.
/// </summary>
public sealed class ExplainObserver : ITimelineObserver
{
    private readonly ulong _ipa;
    private readonly int? _eventNumber;
    private string _phase = "";
    private ExplainedDecision? _outsideAskedEvent;
    private string? _askedPhase;

    public ExplainObserver(ulong ipa, int? eventNumber)
    {
        _ipa = ipa;
        _eventNumber = eventNumber;
    }

    public ExplainedDecision? Explained { get; private set; }

    public bool ObservesAccesses => true;

    public void OnPhaseStart(KvmVm vm, in PhaseInfo phase)
    {
        _phase = phase.Name;
        if (phase.EventNumber == _eventNumber)
            _askedPhase = phase.Name;
    }

    public void OnAccess(KvmVm vm, in AccessRecord access)
    {
        // --ipa names a canonical (L1) IPA: an L2 guest's faults are at L2 IPAs.
        if (Explained is not null || !access.Result.IsFault || access.Decision is null || access.L2Guest)
            return;
        bool inAskedEvent = _eventNumber is not { } wanted || wanted == access.EventNumber;
        if (!inAskedEvent && _outsideAskedEvent is not null)
            return;
        ulong pageMask = vm.Granule.PageMask;
        ExplainPick? pick = (access.Ipa & pageMask) == (_ipa & pageMask) ? ExplainPick.FaultOnPage
            : Covers(access.Result, _ipa & pageMask) ? ExplainPick.LeafCoveringPage
            : null;
        if (pick is not { } p)
            return;
        var found = new ExplainedDecision(access.Decision, p, _phase, access.EventNumber, access.AccessIndex) { AskedEvent = _eventNumber, AskedPhase = _askedPhase };
        if (inAskedEvent)
            Explained = found;
        else
            _outsideAskedEvent = found with { OutsideAskedEvent = true };
    }

    /// <summary>No fault touched or mapped the IPA: explain what a read there does now (after the last event).</summary>
    public void OnFinish(KvmVm vm, int lastEventNumber)
    {
        if (Explained is not null)
            return;
        if (_outsideAskedEvent is not null)
        {
            Explained = _outsideAskedEvent with { AskedPhase = _askedPhase };
            return;
        }
        var record = new DecisionRecord();
        vm.Access(_ipa, AccessKind.Read, record);
        Explained = new ExplainedDecision(record, ExplainPick.ReadAfterLastEvent, "after the last event", lastEventNumber, -1) { AskedEvent = _eventNumber, AskedPhase = _askedPhase };
    }

    private static bool Covers(in FaultResult result, ulong page)
    {
        if (result.Outcome != FaultOutcome.Mapped || result.PgtableErrno != 0)
            return false;
        ulong leafStart = result.Ipa & ~(result.SizeBytes - 1);
        return page >= leafStart && page - leafStart < result.SizeBytes;
    }
}
