using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.Kvm.Policies;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Metrics;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Workloads;

namespace Stage2Lab.Simulation.Runs;

/// <summary>
/// Runs a scenario under one policy: builds the host and VM, creates the memslots (phase "slot creation"),
/// plays the timeline (one phase per event), snapshots the final stage 2, then tears the VM down.
/// Deterministic: the same scenario and seeds give the same result.
/// </summary>
public static class ScenarioRunner
{
    public static ScenarioResult RunAll(Scenario scenario, IEnumerable<string> policies, RunOptions? options = null)
    {
        var result = new ScenarioResult { Scenario = scenario.Name, File = scenario.SourceFile, Description = scenario.Description };
        foreach (string policy in policies)
            result.Runs.Add(Run(scenario, policy, options));
        return result;
    }

    public static PolicyRun Run(Scenario scenario, string policyName, RunOptions? options = null)
    {
        options ??= new RunOptions();
        var execution = new Execution(scenario, policyName, options, explainAccesses: null);
        PolicyRun run = execution.Run();

        // The costliest faults and the fault to explain, with their decision records: replay the same
        // (deterministic) run recording just those accesses.
        var wanted = new HashSet<long>(execution.Costliest.Select(c => c.Index));
        if (execution.ExplainCandidate is { } candidate)
            wanted.Add(candidate);
        if (wanted.Count > 0)
        {
            var replay = new Execution(scenario, policyName, new RunOptions { CostliestDecisions = 0 }, wanted);
            replay.Run();
            foreach (var c in execution.Costliest.OrderByDescending(c => c.Cost).ThenBy(c => c.Index))
            {
                if (replay.Recorded.TryGetValue(c.Index, out DecisionRecord? record))
                    run.CostliestDecisions.Add(new CostlyDecision(c.Phase, c.Index, c.Cost, record));
            }
            if (execution.ExplainCandidate is { } index && replay.Recorded.TryGetValue(index, out DecisionRecord? explained))
            {
                run.Explained = explained;
                run.ExplainedNote = null;
            }
        }
        return run;
    }

    /// <summary>The decision record of one access of a run (by its global index), replaying the run up to it.</summary>
    public static DecisionRecord? ExplainAccess(Scenario scenario, string policyName, long accessIndex)
    {
        var replay = new Execution(scenario, policyName, new RunOptions { CostliestDecisions = 0 }, [accessIndex]);
        replay.Run();
        return replay.Recorded.GetValueOrDefault(accessIndex);
    }

    /// <summary>Total accesses the scenario's workloads make (for progress).</summary>
    public static ulong CountAccesses(Scenario scenario)
    {
        ulong total = 0;
        foreach (TimelineEvent ev in scenario.Timeline)
        {
            if (ev is WorkloadEvent w)
                total += new AccessGenerator(w, scenario.Host.PageSize).Total;
        }
        return total;
    }

    private sealed class Execution
    {
        private readonly Scenario _s;
        private readonly string _policyName;
        private readonly RunOptions _options;
        private readonly HashSet<long>? _explainAccesses;
        private readonly CostProfile _profile;
        private readonly ulong _totalAccesses;
        private readonly long _lastWanted;
        private KvmVm _vm = null!;

        /// <summary>A replay that has recorded every access it was asked for stops early.</summary>
        private bool Finished { get; set; }
        private long _accessIndex;
        private ulong _progressNext;

        public Execution(Scenario s, string policyName, RunOptions options, HashSet<long>? explainAccesses)
        {
            _s = s;
            _policyName = policyName;
            _options = options;
            _explainAccesses = explainAccesses;
            _lastWanted = explainAccesses is null || explainAccesses.Count == 0 ? long.MaxValue : explainAccesses.Max();
            _profile = CostProfiles.TryGet(s.Vm.CostProfile) ?? CostProfiles.ForFeatures(s.Vm.Fwb);
            _totalAccesses = options.Progress is null ? 0 : CountAccesses(s);
        }

        public List<(long Index, string Phase, double Cost)> Costliest { get; } = new();

        public Dictionary<long, DecisionRecord> Recorded { get; } = new();

        public PolicyRun Run()
        {
            _vm = ScenarioVm.Create(_s, _policyName);
            _vm.RecordFaultEvents = _options.CostliestDecisions > 0;
            FaultPolicy policy = _vm.Policy;
            VmConfig config = _vm.Config;
            var run = new PolicyRun { Policy = policy.Name, Description = policy.Description, Profile = _profile, Granule = config.Granule };

            Phase(run, "slot creation", "memslots", p =>
            {
                foreach (MemslotSpec slot in _s.Memslots)
                    CreateSlot(slot, p);
                _options.Checker?.AfterEvent(_vm, null, 0);
            });

            bool tornDown = false;
            for (int i = 0; i < _s.Timeline.Count; i++)
            {
                if (Finished)
                    break;
                TimelineEvent ev = _s.Timeline[i];
                int eventNumber = i + 1;
                if (ev is TeardownEvent)
                {
                    _options.Checker?.Finish(_vm, eventNumber - 1);
                    Snapshot(run.Final);
                    tornDown = true;
                }
                Phase(run, ev.Name, ev.Kind, p =>
                {
                    Execute(ev, eventNumber, p);
                    if (ev is not (WorkloadEvent or AccessEvent))
                        _options.Checker?.AfterEvent(_vm, ev, eventNumber);
                });
                if (tornDown)
                    break;
                if (_options.StopOnViolation && _options.Checker is { Failed: true })
                {
                    Finished = true;
                    break;
                }
            }
            if (!tornDown && !Finished)
            {
                _options.Checker?.Finish(_vm, _s.Timeline.Count);
                Snapshot(run.Final);
                Phase(run, "teardown", "teardown", _ => _vm.Teardown());
            }
            run.Explained = Explained;
            run.ExplainedNote = ExplainedNote;
            return run;
        }

        private void Phase(PolicyRun run, string name, string kind, Action<PhaseResult> body)
        {
            var phase = new PhaseResult { Name = name, Kind = kind };
            VmCounters faultsBefore = _vm.Counters;
            Stage2Counters eventsBefore = _vm.Stage2.Counters;
            body(phase);
            phase.Faults = _vm.Counters - faultsBefore;
            phase.Events = _vm.Stage2.Counters - eventsBefore;
            for (int level = 0; level < 4; level++)
                phase.TablePages[level] = _vm.Stage2.LiveTablePages(level);
            phase.TableBytes = _vm.Stage2.TableBytes;
            phase.EstimatedNs = _profile.EstimateNs(phase.Faults, phase.Events);
            run.Phases.Add(phase);
            _options.AfterPhase?.Invoke(_vm, phase);
        }

        private void CreateSlot(MemslotSpec slot, PhaseResult phase)
        {
            EventOutcome outcome = EventApplier.Apply(_vm, new SlotCreateEvent { Slot = slot });
            if (outcome.Refusal is not null)
                phase.Refusals.Add(outcome.Refusal);
        }

        private void Execute(TimelineEvent ev, int eventNumber, PhaseResult phase)
        {
            switch (ev)
            {
                case WorkloadEvent w:
                    RunWorkload(w, eventNumber, phase);
                    break;
                case AccessEvent a:
                    RunAccess(a, eventNumber, phase);
                    break;
                default:
                {
                    EventOutcome outcome = EventApplier.Apply(_vm, ev);
                    if (outcome.Refusal is not null)
                        phase.Refusals.Add(outcome.Refusal);
                    phase.DirtyPagesHarvested = outcome.DirtyPagesHarvested;
                    break;
                }
            }
        }

        private void RunWorkload(WorkloadEvent w, int eventNumber, PhaseResult phase)
        {
            var gen = new AccessGenerator(w, _s.Host.PageSize);
            ulong pageMask = _s.Host.PageSize.PageMask;
            bool explainHere = _options.ExplainIpa is not null && (_options.ExplainEvent is null || _options.ExplainEvent == eventNumber);
            ulong explainPage = (_options.ExplainIpa ?? 0) & pageMask;
            bool trackCost = _options.CostliestDecisions > 0;
            KvmVm vm = _vm;
            while (gen.Next(out ulong ipa, out AccessKind kind))
            {
                long index = _accessIndex++;
                if (_explainAccesses is not null && index > _lastWanted)
                {
                    Finished = true;
                    return;
                }
                DecisionRecord? record = _explainAccesses is not null && _explainAccesses.Contains(index) ? NewRecord(ipa, kind) : null;

                FaultResult result = vm.Access(ipa, kind, record);
                phase.Accesses++;
                if (record is not null)
                    Recorded[index] = record;
                if (explainHere && ExplainCandidate is null && result.IsFault && Explains(result, ipa & pageMask, explainPage))
                    ExplainCandidate = index;
                if (_options.Checker is { } checker)
                {
                    checker.AfterAccess(vm, ipa, kind, result, eventNumber, index);
                    if (_options.StopOnViolation && checker.Failed)
                        return;
                }
                if (trackCost && result.IsFault && result.Outcome != FaultOutcome.Mmio)
                    ConsiderCost(index, phase.Name, vm.LastFaultEvents);
                if (_options.Progress is not null && (ulong)index >= _progressNext)
                {
                    _options.Progress((ulong)index, _totalAccesses);
                    _progressNext = (ulong)index + 262_144;
                }
            }
        }

        private void RunAccess(AccessEvent a, int eventNumber, PhaseResult phase)
        {
            long index = _accessIndex++;
            if (_explainAccesses is not null && index > _lastWanted)
            {
                Finished = true;
                return;
            }
            DecisionRecord? record = _explainAccesses is not null && _explainAccesses.Contains(index) ? NewRecord(a.Ipa, a.Access) : null;
            FaultResult result = _vm.Access(a.Ipa, a.Access, record);
            phase.Accesses++;
            if (record is not null)
                Recorded[index] = record;
            ulong pageMask = _s.Host.PageSize.PageMask;
            bool explainHere = _options.ExplainIpa is not null && (_options.ExplainEvent is null || _options.ExplainEvent == eventNumber);
            if (explainHere && ExplainCandidate is null && result.IsFault && Explains(result, a.Ipa & pageMask, _options.ExplainIpa!.Value & pageMask))
                ExplainCandidate = index;
            _options.Checker?.AfterAccess(_vm, a.Ipa, a.Access, result, eventNumber, index);
            if (_options.CostliestDecisions > 0 && result.IsFault && result.Outcome != FaultOutcome.Mmio)
                ConsiderCost(index, phase.Name, _vm.LastFaultEvents);
        }

        /// <summary>The first fault that faulted on the explained IPA's page or mapped a leaf covering it.</summary>
        public long? ExplainCandidate { get; private set; }

        private static bool Explains(in FaultResult result, ulong accessPage, ulong explainPage)
        {
            if (accessPage == explainPage)
                return true;
            if (result.Outcome != FaultOutcome.Mapped || result.PgtableErrno != 0)
                return false;
            ulong leafStart = result.Ipa & ~(result.SizeBytes - 1);
            return explainPage >= leafStart && explainPage - leafStart < result.SizeBytes;
        }

        private DecisionRecord NewRecord(ulong ipa, AccessKind kind) => new() { Policy = _policyName, Ipa = ipa, Access = kind };

        private void ConsiderCost(long index, string phase, in Stage2Counters events)
        {
            var one = new VmCounters { Mapped = 1 };
            double cost = _profile.EstimateNs(one, events);
            int k = _options.CostliestDecisions;
            if (Costliest.Count < k)
            {
                Costliest.Add((index, phase, cost));
                return;
            }
            int min = 0;
            for (int i = 1; i < Costliest.Count; i++)
            {
                if (Costliest[i].Cost < Costliest[min].Cost)
                    min = i;
            }
            if (cost > Costliest[min].Cost)
                Costliest[min] = (index, phase, cost);
        }

        /// <summary>The final stage 2: leaves by level, runs for the IPA map, tables, dirty pages, slots.</summary>
        private void Snapshot(FinalState final)
        {
            var sink = new RunBuilder(final, _vm);
            _vm.Stage2.VisitLeaves(ref sink);
            sink.Flush();
            for (int level = 0; level < 4; level++)
                final.TablePages[level] = _vm.Stage2.LiveTablePages(level);
            final.TableBytes = _vm.Stage2.TableBytes;
            foreach (Memslot slot in _vm.Memslots.InIpaOrder)
            {
                final.DirtyPages += slot.DirtyBitmap?.CountSet() ?? 0;
                Vma? vma = _vm.Host.FindVma(slot.UserspaceAddr);
                final.Memslots.Add((slot.Id, slot.Ipa, slot.SizeBytes, vma?.Name ?? vma?.ToString() ?? "(no VMA)"));
            }
            if (_options.ExplainIpa is { } ipa && ExplainCandidate is null && _explainAccesses is null)
            {
                // No fault in the timeline touched or mapped this IPA: explain what a read there does now.
                DecisionRecord record = NewRecord(ipa, AccessKind.Read);
                _vm.Access(ipa, AccessKind.Read, record);
                Explained = record;
                ExplainedNote = "no fault in the timeline touched or mapped this IPA (it may have been mapped when its memslot was created); this is a read issued after the last event";
            }
        }

        public DecisionRecord? Explained { get; private set; }

        public string? ExplainedNote { get; private set; }

        private struct RunBuilder : ILeafSink
        {
            private readonly FinalState _final;
            private readonly KvmVm _vm;
            private LeafRun _current;
            private bool _open;

            public RunBuilder(FinalState final, KvmVm vm)
            {
                _final = final;
                _vm = vm;
                _current = default;
                _open = false;
            }

            public void OnLeaf(in LeafEntry leaf)
            {
                _final.Leaves[leaf.Level]++;
                _final.MappedBytes[leaf.Level] += leaf.SizeBytes;
                bool device = leaf.Descriptor.MemAttrField == MemAttr.Encode(MemoryType.DeviceNGnRE, _vm.Features.Fwb);
                if (_open && _current.EndIpa == leaf.Ipa && _current.Level == leaf.Level && _current.Device == device)
                {
                    _current = _current with { EndIpa = leaf.Ipa + leaf.SizeBytes, Leaves = _current.Leaves + 1 };
                    return;
                }
                Flush();
                _current = new LeafRun(leaf.Ipa, leaf.Ipa + leaf.SizeBytes, leaf.Level, leaf.SizeBytes, device, 1);
                _open = true;
            }

            public void Flush()
            {
                if (_open)
                    _final.Runs.Add(_current);
                _open = false;
            }
        }
    }
}
