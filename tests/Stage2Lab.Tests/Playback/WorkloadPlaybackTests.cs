using System.Text;
using Stage2Lab.Kvm;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Playback;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Workloads;

namespace Stage2Lab.Tests.Playback;

/// <summary>
/// The player's shortcuts for workloads — accesses replayed from a shared stream with the next ones' entries
/// prefetched, and, when no observer sees each access, only counted (no result built per hit) — leave every
/// phase's counters and the final tables as the plain path does: each access drawn from its generator and
/// played with its result shown to an observer.
/// </summary>
public class WorkloadPlaybackTests
{
    public static TheoryData<string, string> Cases() => new()
    {
        { "gpu-32g-bar-unaligned.yaml", "v5.13" },
        { "gpu-32g-bar-unaligned.yaml", "v6.18" },
        { "live-migration.yaml", "v6.18" },
        { "live-migration.yaml", "v5.13" },
        { "device-reset-zap.yaml", "v7.4" },
        { "ram-no-thp.yaml", "v5.14" },
        { "vm-granule-64k.yaml", "v6.18" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Streams_prefetching_and_counted_accesses_change_no_count_or_descriptor(string example, string policy)
    {
        Scenario s = ScenarioReader.Load(Path.Combine(RepoPaths.Examples, example));
        string plain = Play(s, policy, seeAccesses: true, streams: null);
        var streams = new AccessStreamCache();
        Assert.Equal(plain, Play(s, policy, seeAccesses: false, streams));
        Assert.Equal(plain, Play(s, policy, seeAccesses: true, streams));
        Assert.Equal(plain, Play(s, policy, seeAccesses: false, streams: null));
    }

    private static string Play(Scenario s, string policy, bool seeAccesses, AccessStreamCache? streams)
    {
        var player = new TimelinePlayer(s, policy, new PlayerOptions { AccessStreams = streams });
        var state = new StateText(seeAccesses);
        player.Play([state]);
        return state.Text.ToString();
    }

    /// <summary>The VM and stage-2 counters after each phase, each event's outcome, and the live table pages at the end.</summary>
    private sealed class StateText(bool seeAccesses) : ITimelineObserver
    {
        private long _accesses;

        public StringBuilder Text { get; } = new();

        public bool ObservesAccesses => seeAccesses;

        public void OnAccess(KvmVm vm, in AccessRecord access) => _accesses++;

        public void OnEvent(KvmVm vm, in EventRecord ev) => Text.Append($"event {ev.EventNumber}: {ev.Outcome}\n");

        public void OnPhaseEnd(KvmVm vm, in PhaseInfo phase)
        {
            Text.Append($"phase {phase.EventNumber}:");
            Text.AppendCounters(vm);
        }

        public void OnFinish(KvmVm vm, int lastEventNumber)
        {
            if (seeAccesses)
                Assert.Equal(vm.Counters.Accesses, _accesses);
            TableInspector t = vm.Stage2.Inspect;
            var hash = new HashCode();
            for (int id = 0; id < t.PageIdLimit; id++)
            {
                if (!t.IsLive(id))
                    continue;
                hash.Add(id);
                hash.Add(t.LevelOf(id));
                hash.Add(t.RefCount(id));
                foreach (ulong e in t.Entries(id))
                    hash.Add(e);
            }
            Text.Append($"tables {t.PageIdLimit} {hash.ToHashCode()}\n");
        }
    }
}
