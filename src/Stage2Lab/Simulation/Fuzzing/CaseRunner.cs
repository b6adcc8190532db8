using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Invariants;
using Stage2Lab.Simulation.Playback;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Fuzzing;

/// <summary>What running one fuzz case gave: its first violation, the events checked, and the violating event (1-based; -1: none).</summary>
internal readonly record struct Outcome(InvariantViolation? Violation, long Events, int EventNumber);

/// <summary>
/// Runs fuzz cases one after another on one thread, with the invariant checker after every event. What a case
/// needs and a case's outcome does not keep (the VM's table pages, the checker's scratch) is handed on to the next case, so that the
/// workers of a campaign allocate little and seldom stop each other for a collection. One runner per thread.
/// </summary>
internal sealed class CaseRunner(FuzzOptions options)
{
    private readonly TablePageCache _tablePages = new();
    private readonly InvariantChecker _checker = new();

    public FuzzOptions Options { get; } = options;

    /// <summary>Runs one case, stopping at the first violation.</summary>
    public Outcome Execute(CaseChoice choice)
    {
        Scenario s = FuzzCaseBuilder.Build(choice, Options.Layout, Options.Policy, Options.Flavor);
        InvariantKind? only = Options.OnlyKind;
        var control = new PlaybackControl();
        var checker = new InvariantRunChecker(maxViolations: 1, stopOnViolation: control, checker: _checker) { Filter = only is null ? null : v => v.Kind == only };
        // The hit memo pays for itself over the long workloads of a run; a case's few dozen accesses never fill
        // it, yet it would allocate 16 KiB per leaf level per case (most of what a case allocated), so that the
        // workers stop each other for collections. It changes no result (KvmVm.HitMemoEnabled): off, every access walks.
        var player = new TimelinePlayer(s, Options.Policy, new PlayerOptions { Control = control, TablePages = _tablePages, HitMemo = false });
        player.Play([checker]);
        // The outcome keeps nothing of the VM (a violation is values and text).
        player.Vm.ReturnTablePages();
        InvariantViolation? v = checker.Violations.Count > 0 ? checker.Violations[0] : null;
        return new Outcome(v, checker.EventsChecked, checker.FirstViolatingEvent ?? -1);
    }
}
