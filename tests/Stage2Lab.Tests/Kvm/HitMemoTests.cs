using System.Text;
using CsCheck;
using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Fuzzing;
using Stage2Lab.Simulation.Playback;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Tests.Playback;

namespace Stage2Lab.Tests.Kvm;

/// <summary>
/// The memo of recent hits (Stage2HitMemo) is a shortcut of the simulator: with it on and off, the same fuzz
/// timelines (every event the fuzzer makes — maps, unmaps, aging, dirty logging, slot moves and deletes — with
/// each access repeated and followed by accesses of other kinds in the same page and block, so that hits, AF
/// clears and permission faults on remembered leaves all occur) give the same result for every access, the same
/// VM and stage-2 counters after every phase, and the same table pages, entry for entry, at the end.
/// </summary>
public class HitMemoTests
{
    private static readonly string[] Policies = ["v5.13", "v5.14", "v6.18", "v7.4"];

    [Fact]
    public void The_memo_changes_no_result_count_or_descriptor()
    {
        Gen.Select(CaseChoice.Generator(24), Gen.Int[0, Policies.Length - 1], Gen.UInt).Sample((choice, p, seed) =>
        {
            string policy = Policies[p];
            Scenario s = WithRepeatedAccesses(FuzzCaseBuilder.Build(choice, FuzzLayout.Any, policy), seed);
            string on = Play(s, policy, memo: true, out _);
            string off = Play(s, policy, memo: false, out _);
            Assert.Equal(off, on);
        }, iter: 300, print: t => $"{Policies[t.Item2]} seed {t.Item3}: granule {t.Item1.Granule} ipa {t.Item1.IpaSize} vmas [{string.Join(", ", t.Item1.Vmas)}] events [{string.Join(", ", t.Item1.Events)}]");
    }

    [Fact]
    public void Repeated_accesses_hit_through_the_memo_and_aging_makes_them_walk_again()
    {
        // A 2M THP block faulted in, then hit many times; aging clears its AF (a descriptor write), so the next
        // access walks, sets AF again (hardware) and is a hit — counted exactly as without the memo.
        Scenario s = FuzzCaseBuilder.Build(new CaseChoice(0, 0, [new VmaChoice(0, 0, 0, 0, 0)], []), FuzzLayout.Ordinary, "v6.18");
        MemslotSpec slot = s.Memslots[0];
        for (int i = 0; i < 64; i++)
            s.Timeline.Add(new AccessEvent { Ipa = slot.Ipa + (ulong)i * 4096, Access = i % 3 == 0 ? AccessKind.Write : AccessKind.Read });
        s.Timeline.Add(new AgeEvent { Hva = s.Mappings[0].Start, SizeBytes = s.Mappings[0].SizeBytes });
        for (int i = 0; i < 64; i++)
            s.Timeline.Add(new AccessEvent { Ipa = slot.Ipa + (ulong)i * 4096, Access = AccessKind.Read });
        for (int i = 0; i < s.Timeline.Count; i++)
            s.Timeline[i].Name = $"{i + 1}";

        string on = Play(s, "v6.18", memo: true, out long hits);
        string off = Play(s, "v6.18", memo: false, out long hitsOff);
        Assert.Equal(off, on);
        Assert.Equal(hitsOff, hits);
        Assert.True(hits >= 120, $"expected the repeated accesses to hit, got {hits} hits");
    }

    /// <summary>After every access event, the same access again, then two more in its page and block (other kinds).</summary>
    private static Scenario WithRepeatedAccesses(Scenario s, uint seed)
    {
        var timeline = new List<TimelineEvent>();
        ulong page = s.Host.PageSize.PageSize;
        ulong block = s.Host.PageSize.LevelSize(Granule.LastLevel - 1);
        uint x = seed | 1;
        foreach (TimelineEvent ev in s.Timeline)
        {
            timeline.Add(ev);
            if (ev is not AccessEvent a)
                continue;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            timeline.Add(new AccessEvent { Ipa = a.Ipa, Access = a.Access });
            timeline.Add(new AccessEvent { Ipa = (a.Ipa & ~(page - 1)) + (x % page & ~7UL), Access = (AccessKind)(x / 7 % 3) });
            timeline.Add(new AccessEvent { Ipa = (a.Ipa & ~(block - 1)) + (x / 3 % block & ~7UL), Access = (AccessKind)(x / 11 % 3) });
        }
        s.Timeline.Clear();
        s.Timeline.AddRange(timeline);
        for (int i = 0; i < s.Timeline.Count; i++)
            s.Timeline[i].Name = $"{i + 1}:{s.Timeline[i].Kind}";
        return s;
    }

    /// <summary>Everything observable of a played timeline, as text: each access's result, the counters after each
    /// phase, and every live table page's level, refcount and entries when the timeline ends.</summary>
    private static string Play(Scenario s, string policy, bool memo, out long hits)
    {
        var player = new TimelinePlayer(s, policy);
        player.Vm.HitMemoEnabled = memo;
        var trace = new Trace();
        player.Play([trace]);
        hits = player.Vm.Counters.Hits;
        return trace.Text.ToString();
    }

    private sealed class Trace : ITimelineObserver
    {
        public StringBuilder Text { get; } = new();

        public bool ObservesAccesses => true;

        public void OnAccess(KvmVm vm, in AccessRecord access) =>
            Text.Append($"{access.AccessIndex} {access.Ipa:x} {access.Access}: {access.Result}\n");

        public void OnEvent(KvmVm vm, in EventRecord ev) =>
            Text.Append($"event {ev.EventNumber}: {ev.Outcome}\n");

        public void OnPhaseEnd(KvmVm vm, in PhaseInfo phase)
        {
            Text.Append($"phase {phase.EventNumber}:");
            Text.AppendCounters(vm);
        }

        public void OnFinish(KvmVm vm, int lastEventNumber)
        {
            TableInspector t = vm.Stage2.Inspect;
            for (int id = 0; id < t.PageIdLimit; id++)
            {
                if (!t.IsLive(id))
                    continue;
                Text.Append($"page {id} level {t.LevelOf(id)} refs {t.RefCount(id)}:");
                ReadOnlySpan<ulong> entries = t.Entries(id);
                for (int i = 0; i < entries.Length; i++)
                {
                    if (entries[i] != 0)
                        Text.Append($" {i}={entries[i]:x}");
                }
                Text.Append('\n');
            }
        }
    }
}
