using CsCheck;
using Stage2Lab.Host;
using Stage2Lab.Simulation.Advice;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Tests.Advice;

/// <summary>Placement and moves: a place has the residue asked for, is free and in range; a move carries its slots along.</summary>
public class ScenarioLayoutTests
{
    private const ulong Block = 2UL << 20;

    [Fact]
    public void A_placed_range_has_the_residue_is_free_and_is_the_preferred_start_when_that_is_free()
    {
        Gen.Select(Gen.ULong[0, 63].Array[0, 12], Gen.ULong[1, 64], Gen.ULong[0, 511], Gen.ULong[0, 4095]).Sample((starts, pages, residuePages, preferredPages) =>
        {
            var s = new Scenario();
            s.Host.VaBits = 36; // 64 GiB of user address space: room runs out sometimes
            for (int i = 0; i < starts.Length; i++)
                s.Mappings.Add(new VmaSpec { Name = $"m{i}", Kind = VmaKind.Anonymous, Start = (starts[i] + 1) << 30, SizeBytes = 1UL << 29 });
            ulong size = pages << 12;
            ulong residue = residuePages << 12 & (Block - 1);
            ulong preferred = (preferredPages << 24) + residue;
            ulong? placed = ScenarioLayout.PlaceHva(s, size, Block, residue, preferred, []);
            if (placed is not { } at)
                return;
            Assert.Equal(residue, at % Block);
            Assert.True(at >= 4096 && at + size <= 1UL << 36);
            Assert.DoesNotContain(s.Mappings, m => m.Start < at + size && at < m.Start + m.SizeBytes);
            bool preferredFree = preferred >= 4096 && preferred + size <= 1UL << 36 && !s.Mappings.Any(m => m.Start < preferred + size && preferred < m.Start + m.SizeBytes);
            if (preferredFree)
                Assert.Equal(preferred, at);
        });
    }

    [Fact]
    public void Moving_a_mapping_moves_the_slots_and_host_events_inside_it_and_nothing_else()
    {
        Scenario s = AdviceKit.Parse("""
            host: { ram: [ { name: dram, base: 0x8000_0000, size: 4G } ] }
            mappings:
              - { name: a, kind: anon, start: 0x7f00_0000_0000, size: 64M, pieces: [ { offset: 0, size: 4K, pa: 0x9000_0000 } ] }
              - { name: b, kind: anon, start: 0x7f10_0000_0000, size: 64M }
            vm: { ipa-bits: 40, policies: [v6.18] }
            memslots:
              - { id: 0, ipa: 0x4000_0000, mapping: a }
              - { id: 1, ipa: 0x8000_0000, mapping: b }
            timeline:
              - munmap: { mapping: a, offset: 2M, size: 2M }
              - age: { mapping: b }
              - slot-create: { id: 2, ipa: 0x9000_0000, mapping: a, offset: 8M, size: 8M }
            """);
        ScenarioLayout.MoveMappings(s, ["a"], 0x7f00_0000_0000, 0x7f00_0400_0000, 0x7e00_0000_0000);
        Assert.Equal(0x7e00_0000_0000UL, s.Mappings[0].Start);
        Assert.Equal(0x7e00_0000_0000UL, s.Mappings[0].Pieces[0].Hva);
        Assert.Equal(0x7e00_0000_0000UL, s.Memslots[0].Hva);
        Assert.Equal(0x7f10_0000_0000UL, s.Memslots[1].Hva);
        Assert.Equal(0x7e00_0020_0000UL, ((UnmapEvent)s.Timeline[0]).Hva);
        Assert.Equal(0x7f10_0000_0000UL, ((AgeEvent)s.Timeline[1]).Hva);
        Assert.Equal(0x7e00_0080_0000UL, ((SlotCreateEvent)s.Timeline[2]).Slot.Hva);
    }
}
