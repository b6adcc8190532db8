using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Advice;

/// <summary>A change worth trying under a policy, with the binding constraint it was proposed for.</summary>
public sealed record Candidate(ScenarioChange Change, string Policy, DecisionStep Lifts, DecisionRecord From);

/// <summary>
/// The changes worth trying under one policy: for each binding constraint of the run (costliest decisions first),
/// each lever of <see cref="ConstraintLevers"/> made concrete for this scenario; each change once.
/// </summary>
public static class CandidateFinder
{
    public static List<Candidate> Find(Scenario s, PolicyRun run, int max)
    {
        var found = new List<Candidate>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (DecisionGroup g in run.Decisions)
        {
            DecisionRecord record = g.Representative;
            if (record.Slot is null || ConstraintLevers.BindingOf(record) is not { } binding)
                continue;
            foreach (ChangeKind kind in ConstraintLevers.For(binding, record))
            {
                foreach (ScenarioChange change in Propose(kind, s, record, binding))
                {
                    if (found.Count >= max)
                        return found;
                    if (keys.Add(change.Key))
                        found.Add(new Candidate(change, run.Policy, binding, record));
                }
            }
        }
        return found;
    }

    /// <summary>The concrete changes of one kind for one constraint (none when the kind does not apply here).</summary>
    public static IEnumerable<ScenarioChange> Propose(ChangeKind kind, Scenario s, DecisionRecord record, DecisionStep binding) => kind switch
    {
        ChangeKind.AlignHva => One(AlignHvaChange.Propose(s, record, binding)),
        ChangeKind.AlignIpa => One(AlignIpaChange.Propose(s, record, binding)),
        ChangeKind.ResizeSlot => One(ResizeSlotChange.Propose(s, record, binding)),
        ChangeKind.SplitSlot => SplitSlotChange.Propose(s, record, binding),
        ChangeKind.Thp => One(ThpChange.Propose(s, record)),
        ChangeKind.Hugetlb => HugetlbChange.Propose(s, record),
        ChangeKind.HostHugePfnmap => One(HostHugePfnmapChange.Propose(s, record)),
        ChangeKind.Granule => GranuleChange.Propose(s),
        _ => One(NoDirtyLoggingChange.Propose(s, record)),
    };

    private static IEnumerable<ScenarioChange> One(ScenarioChange? change) => change is null ? [] : [change];
}
