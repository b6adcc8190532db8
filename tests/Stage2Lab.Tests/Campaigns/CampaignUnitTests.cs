using Stage2Lab.Simulation.Campaigns;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Sweeps;

namespace Stage2Lab.Tests.Campaigns;

public class CampaignUnitTests
{
    [Fact]
    public void A_range_includes_its_end_when_on_a_step_and_keeps_the_notation()
    {
        SweepAxis hex = SweepAxis.Parse("mappings[1].start=0x7f10_0000_0000..0x7f10_4000_0000/256M");
        Assert.Equal(["0x7f1000000000", "0x7f1010000000", "0x7f1020000000", "0x7f1030000000", "0x7f1040000000"], hex.Values);
        Assert.Equal(AxisNotation.Hex, hex.Notation);
        SweepAxis sizes = SweepAxis.Parse("mappings.bar.size=1G..4G/1G");
        Assert.Equal(["1G", "2G", "3G", "4G"], sizes.Values);
        Assert.Equal(["0", "3", "6"], SweepAxis.Parse("k=0..8/3").Values);
        SweepAxis words = SweepAxis.Parse("host.thp=never, always");
        Assert.Equal(["never", "always"], words.Values);
        Assert.Equal(AxisNotation.Text, words.Notation);
    }

    [Fact]
    public void Shards_partition_the_items_in_order_whatever_the_split()
    {
        foreach (long total in new long[] { 0, 1, 7, 1024, 1_000_000 })
        {
            foreach (int n in new[] { 1, 2, 3, 8, 1000 })
            {
                long next = 0;
                for (int i = 1; i <= n; i++)
                {
                    var (first, end) = new Shard(i, n).Range(total);
                    Assert.Equal(next, first);
                    Assert.True(end >= first);
                    Assert.True(end - first <= total / n + 1);
                    next = end;
                }
                Assert.Equal(total, next);
            }
        }
    }

    [Fact]
    public void The_points_are_the_cross_product_first_axis_slowest()
    {
        var plan = new SweepPlan(SweepCliTests.Scenario, "t.yaml", null,
            [SweepAxis.Parse("mappings.bar.size=256M,1G"), SweepAxis.Parse("host.page-size=4K,16K,64K")], ["v6.18"]);
        Assert.Equal(6, plan.Points);
        Assert.Equal(["256M", "4K"], plan.ValuesAt(0));
        Assert.Equal(["256M", "64K"], plan.ValuesAt(2));
        Assert.Equal(["1G", "16K"], plan.ValuesAt(4));
        Scenario s = plan.Load(4);
        Assert.Equal(1UL << 30, s.Mappings[1].SizeBytes);
        Assert.Equal(1UL << 30, s.Memslots[1].SizeBytes); // the slot follows its mapping, as in the file
        Assert.Equal(14, s.Host.PageSize.PageShift);
    }

    [Fact]
    public void A_key_path_names_list_entries_by_index_or_by_name_and_memslots_by_id()
    {
        Scenario byIndex = ScenarioReader.Parse(SweepCliTests.Scenario, "t.yaml", null, [new ScenarioOverride("mappings[1].start", "0x7f20_0000_0000")]);
        Scenario byName = ScenarioReader.Parse(SweepCliTests.Scenario, "t.yaml", null, [new ScenarioOverride("mappings.bar.start", "0x7f20_0000_0000")]);
        Scenario slot = ScenarioReader.Parse(SweepCliTests.Scenario, "t.yaml", null, [new ScenarioOverride("memslots.1.ipa", "0x90_0000_0000")]);
        Assert.Equal(0x7f20_0000_0000UL, byIndex.Mappings[1].Start);
        Assert.Equal(0x7f20_0000_0000UL, byName.Mappings[1].Start);
        Assert.Equal(0x90_0000_0000UL, slot.Memslots[1].Ipa);
        // A key the file leaves at its default can be set too.
        Scenario thp = ScenarioReader.Parse(SweepCliTests.Scenario, "t.yaml", null, [new ScenarioOverride("host.thp", "never")]);
        Assert.Equal(Stage2Lab.Host.ThpMode.Never, thp.Host.Thp);
    }
}
