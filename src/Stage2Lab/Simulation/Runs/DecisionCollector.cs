using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Metrics;
using Stage2Lab.Simulation.Playback;

namespace Stage2Lab.Simulation.Runs;

/// <summary>
/// Keeps one representative decision per distinct (slot, outcome, size, binding constraint) of a run, with how
/// many faults shared it and what they cost — so a run shows every kind of decision it made (RAM THP faults, BAR
/// blocks, MMIO exits, v5.13's slot creation) once each, instead of the same one many times. Needs the player to
/// explain every fault (<see cref="PlayerOptions.ExplainFaults"/>) and keep its events.
/// </summary>
public sealed class DecisionCollector : ITimelineObserver
{
    /// <summary>Distinct groups kept; further distinct decisions are counted in <see cref="Ungrouped"/>.</summary>
    public const int MaxGroups = 4096;

    private readonly CostProfile _profile;
    private readonly Dictionary<GroupKey, Group> _groups = new();
    private string _phase = "";

    public DecisionCollector(CostProfile profile) => _profile = profile;

    public bool ObservesAccesses => true;

    /// <summary>Decisions that found no room once <see cref="MaxGroups"/> groups existed.</summary>
    public long Ungrouped { get; private set; }

    public void OnPhaseStart(KvmVm vm, in PhaseInfo phase) => _phase = phase.Name;

    public void OnAccess(KvmVm vm, in AccessRecord access)
    {
        if (!access.Result.IsFault || access.Decision is not { } record)
            return;
        var one = new VmCounters();
        one.Count(access.Result);
        Add(record, access.EventNumber, access.AccessIndex, _profile.EstimateNs(one, record.Events));
    }

    public void OnEvent(KvmVm vm, in EventRecord ev)
    {
        // Only memslot changes that did page-table work at once (before 5.14: the ioremap of VM_PFNMAP VMAs).
        if (ev.Decision is { Steps.Count: > 0 } record)
            Add(record, ev.EventNumber, -1, _profile.EstimateNs(default, record.Events));
    }

    private void Add(DecisionRecord record, int eventNumber, long accessIndex, double costNs)
    {
        var key = GroupKey.Of(record);
        if (_groups.TryGetValue(key, out Group? group))
        {
            group.Count++;
            group.TotalNs += costNs;
            return;
        }
        if (_groups.Count >= MaxGroups)
        {
            Ungrouped++;
            return;
        }
        _groups.Add(key, new Group(_phase, eventNumber, accessIndex, costNs, record));
    }

    /// <summary>The groups, costliest in total first (then by first occurrence).</summary>
    public IEnumerable<DecisionGroup> Groups() =>
        _groups.Values
            .OrderByDescending(g => g.TotalNs)
            .ThenBy(g => g.EventNumber)
            .ThenBy(g => g.FirstAccessIndex)
            .Select(g => new DecisionGroup(g.Phase, g.EventNumber, g.FirstAccessIndex, g.Count, g.EachNs, g.TotalNs, g.Record));

    private sealed class Group(string phase, int eventNumber, long firstAccessIndex, double eachNs, DecisionRecord record)
    {
        public string Phase { get; } = phase;

        public int EventNumber { get; } = eventNumber;

        public long FirstAccessIndex { get; } = firstAccessIndex;

        public double EachNs { get; } = eachNs;

        public DecisionRecord Record { get; } = record;

        public long Count { get; set; } = 1;

        public double TotalNs { get; set; } = eachNs;
    }

    /// <summary>What makes two decisions the same for a reader: slot, outcome, size, and the binding constraint's kind and numbers that matter.</summary>
    private readonly record struct GroupKey(int SlotId, FaultOutcome Outcome, ulong SizeBytes, int Errno, Type? Binding, ulong BindingSize, int BindingCode, bool SlotChange)
    {
        public static GroupKey Of(DecisionRecord r)
        {
            DecisionStep? b = r.SlotChange is null ? r.BindingConstraint : r.Steps.Count > 0 ? r.Steps[0] : null;
            (ulong size, int code) = b switch
            {
                PfnMapBlockCheckStep c => (c.SizeBytes, (int)c.Result),
                HugeMappingCheckStep h => (h.SizeBytes, (int)h.Result),
                ForcePteStep f => (0UL, (int)f.Reason),
                HugetlbShiftStep h => (h.HugePageSizeBytes, 0),
                ThpHostLeafCheckStep t => (t.LeafSizeBytes, 0),
                ThpPageCheckStep t => (0UL, t.IsRam ? 1 : 0),
                DeviceDetectedStep d => (0UL, (int)d.Effect),
                HostLeafSizeStep h => (h.LeafSizeBytes, 0),
                IoremapAtCreationStep i => (0UL, i.Errno),
                _ => (0UL, 0),
            };
            return new GroupKey(r.Slot?.Id ?? -1, r.Result.Outcome, r.Result.SizeBytes, r.Result.Errno, b?.GetType(), size, code, r.SlotChange is not null);
        }
    }
}
