using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Workloads;

namespace Stage2Lab.Simulation.Playback;

/// <summary>How <see cref="TimelinePlayer"/> plays: what it records beyond the state itself.</summary>
public sealed class PlayerOptions
{
    /// <summary>Give every fault (not hits) its own decision record, in <see cref="AccessRecord.Decision"/>; and
    /// every memslot ioctl too, in <see cref="EventRecord.Decision"/>.</summary>
    public bool ExplainFaults { get; init; }

    /// <summary>Keep each fault's page-table events (<see cref="KvmVm.LastFaultEvents"/>) for cost estimates.</summary>
    public bool RecordFaultEvents { get; init; }

    /// <summary>Called with (accesses done, accesses in the whole timeline) every <see cref="ProgressInterval"/> accesses.</summary>
    public Action<long, long>? Progress { get; init; }

    public int ProgressInterval { get; init; } = 1 << 16;

    /// <summary>Observers may stop the playing through this (it is checked after every access and event).</summary>
    public PlaybackControl? Control { get; init; }

    /// <summary>Where the VM's table pages come from: a thread that plays many short scenarios reuses them
    /// (<see cref="KvmVm.ReturnTablePages"/>); null: fresh ones.</summary>
    public TablePageCache? TablePages { get; init; }

    /// <summary>
    /// Whether the VM serves hits from a memo of recent hits (on by default). It changes no result; it pays for
    /// itself over long workloads, while a scenario of a few dozen accesses (a fuzz case) never fills it and
    /// would only allocate its 16 KiB per leaf level.
    /// </summary>
    public bool HitMemo { get; init; } = true;

    /// <summary>Where random and Zipf workloads' accesses come from when other runs play the same workloads
    /// (compare, sweep, advise): generated once and replayed; null: each run draws its own.</summary>
    public AccessStreamCache? AccessStreams { get; init; }
}

/// <summary>
/// Plays a scenario under one policy — the one place a timeline is played, for run, compare, check, fuzz and
/// explain: builds the host and VM, creates the memslots (phase 0), plays each timeline event as a phase, tells
/// the observers about every phase, access and event, and tears the VM down (at an explicit teardown event, or
/// after the last event). Deterministic: the same scenario and seeds give the same calls in the same order.
/// </summary>
public sealed class TimelinePlayer
{
    public const string CreationPhaseName = "slot creation";

    // How far ahead of the played access the stage-2 entry is fetched: a few accesses' work covers a miss.
    private const int PrefetchAhead = 8;

    private readonly Scenario _s;
    private readonly PlayerOptions _options;
    private readonly List<ulong> _gfnScratch = new();
    private ITimelineObserver[] _all = [];
    private ITimelineObserver[] _accessObservers = [];
    private long _accessIndex;
    private long _totalAccesses;
    private long _progressNext;

    public TimelinePlayer(Scenario scenario, string policy, PlayerOptions? options = null)
    {
        _s = scenario;
        _options = options ?? new PlayerOptions();
        Vm = ScenarioVm.Create(scenario, policy, _options.TablePages, _options.HitMemo);
        Vm.ExplainEveryFault = _options.ExplainFaults;
        Vm.RecordFaultEvents = _options.RecordFaultEvents;
    }

    public KvmVm Vm { get; }

    /// <summary>Whether an observer stopped the playing before the end.</summary>
    public bool Stopped => _options.Control?.StopRequested == true;

    /// <summary>Total accesses the scenario's events make (the progress denominator).</summary>
    public static long CountAccesses(Scenario scenario)
    {
        long total = 0;
        foreach (TimelineEvent ev in scenario.Timeline)
        {
            if (ev is WorkloadEvent w)
                total += (long)new AccessGenerator(w, scenario.Host.PageSize).Total;
            else if (ev is AccessEvent)
                total++;
        }
        return total;
    }

    /// <summary>Plays the whole timeline once; may be called once per player.</summary>
    public void Play(IReadOnlyList<ITimelineObserver> observers)
    {
        _all = [.. observers];
        _accessObservers = [.. observers.Where(o => o.ObservesAccesses)];
        if (_options.Progress is not null)
            _totalAccesses = CountAccesses(_s);

        var creation = new PhaseInfo(CreationPhaseName, "memslots", 0, null);
        PhaseStart(creation);
        foreach (MemslotSpec slot in _s.Memslots)
        {
            var ev = new SlotCreateEvent { Slot = slot, Name = CreationPhaseName, Where = slot.Where };
            ApplyEvent(ev, 0);
        }
        PhaseEnd(creation);

        int last = 0;
        bool tornDown = false;
        for (int i = 0; i < _s.Timeline.Count && !Stopped; i++)
        {
            TimelineEvent ev = _s.Timeline[i];
            int eventNumber = i + 1;
            if (ev is TeardownEvent)
            {
                Finish(last);
                tornDown = true;
            }
            var phase = new PhaseInfo(ev.Name, ev.Kind, eventNumber, ev);
            PhaseStart(phase);
            Execute(ev, eventNumber);
            PhaseEnd(phase);
            last = eventNumber;
            if (tornDown)
                return;
        }
        Finish(last);
        if (!Stopped)
        {
            var teardown = new PhaseInfo("teardown", "teardown", _s.Timeline.Count + 1, null);
            PhaseStart(teardown);
            Vm.Teardown();
            PhaseEnd(teardown);
        }
    }

    private void Finish(int lastEventNumber)
    {
        foreach (ITimelineObserver o in _all)
            o.OnFinish(Vm, lastEventNumber);
    }

    // Start and end are two calls around the phase's work, not one taking the work as a delegate: a fuzz
    // campaign plays thousands of short timelines a second, and a closure per event is garbage per event.
    private void PhaseStart(in PhaseInfo phase)
    {
        foreach (ITimelineObserver o in _all)
            o.OnPhaseStart(Vm, phase);
    }

    private void PhaseEnd(in PhaseInfo phase)
    {
        foreach (ITimelineObserver o in _all)
            o.OnPhaseEnd(Vm, phase);
    }

    private void Execute(TimelineEvent ev, int eventNumber)
    {
        switch (ev)
        {
            case WorkloadEvent w:
                PlayWorkload(w, eventNumber);
                break;
            case AccessEvent a:
                PlayAccess(a.Ipa, a.Access, eventNumber, a.L2Guest);
                break;
            default:
                ApplyEvent(ev, eventNumber);
                break;
        }
    }

    private void ApplyEvent(TimelineEvent ev, int eventNumber)
    {
        DecisionRecord? explain = _options.ExplainFaults && ev is SlotCreateEvent or SlotMoveEvent ? new DecisionRecord() : null;
        EventOutcome outcome = EventApplier.Apply(Vm, ev, _gfnScratch, explain);
        var record = new EventRecord(ev, eventNumber, outcome, explain);
        foreach (ITimelineObserver o in _all)
            o.OnEvent(Vm, record);
    }

    private void PlayWorkload(WorkloadEvent w, int eventNumber)
    {
        // With nobody to see each access, only the counts and the state matter: no result is built per hit (and
        // nothing can ask to stop in the middle: only observers do, from what they are shown).
        bool counted = !w.L2Guest && _accessObservers.Length == 0 && _options.Progress is null;
        if (_options.AccessStreams?.Get(w, _s.Host.PageSize) is { } stream)
        {
            ReadOnlySpan<ulong> ipas = stream.Ipas;
            ReadOnlySpan<AccessKind> kinds = stream.Kinds;
            // Knowing the accesses ahead, the player lets the host fetch the last-level entry of the access
            // PrefetchAhead on while this one is played: their cache misses overlap instead of following one
            // another. (Fetching the entry above it for an access twice as far gained nothing measurable.)
            if (counted)
            {
                Vm.AccessCountedAll(ipas, kinds, PrefetchAhead);
                _accessIndex += ipas.Length;
                return;
            }
            int prefetchEnd = w.L2Guest ? 0 : ipas.Length - PrefetchAhead;
            for (int i = 0; i < ipas.Length; i++)
            {
                if (i < prefetchEnd)
                    Vm.PrefetchAccess(ipas[i + PrefetchAhead], Granule.LastLevel);
                PlayAccess(ipas[i], kinds[i], eventNumber, w.L2Guest);
                if (Stopped)
                    return;
            }
            return;
        }
        var gen = new AccessGenerator(w, _s.Host.PageSize);
        while (gen.Next(out ulong ipa, out AccessKind kind))
        {
            if (counted)
            {
                _accessIndex++;
                Vm.AccessCounted(ipa, kind);
                continue;
            }
            PlayAccess(ipa, kind, eventNumber, w.L2Guest);
            if (Stopped)
                return;
        }
    }

    private void PlayAccess(ulong ipa, AccessKind kind, int eventNumber, bool l2Guest)
    {
        long index = _accessIndex++;
        FaultResult result = l2Guest ? Vm.AccessNested(ipa, kind) : Vm.Access(ipa, kind);
        if (_accessObservers.Length != 0)
        {
            var record = new AccessRecord(ipa, kind, result, eventNumber, index, Vm.LastDecision, l2Guest);
            foreach (ITimelineObserver o in _accessObservers)
                o.OnAccess(Vm, record);
        }
        if (_options.Progress is { } progress && index >= _progressNext)
        {
            progress(index, _totalAccesses);
            _progressNext = index + _options.ProgressInterval;
        }
    }
}
