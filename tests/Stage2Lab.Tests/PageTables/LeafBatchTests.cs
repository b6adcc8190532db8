using Stage2Lab.Arch;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Runs;
using static Stage2Lab.Tests.PageTables.PageTableKit;

namespace Stage2Lab.Tests.PageTables;

/// <summary>
/// <see cref="Stage2PageTable.VisitLeafBatches{TSink}(ref TSink)"/> on tables built for it: a last-level
/// table's pages come as runs of valid entries, blocks one by one, and the final IPA map's runs split where
/// the memory type changes inside a table. (Stage2PropertyTests checks it against the per-leaf walk on random
/// tables.)
/// </summary>
public class LeafBatchTests
{
    private const ulong Ipa = 0x4000_0000;

    [Fact]
    public void A_last_level_table_comes_as_runs_of_valid_pages_and_a_block_alone()
    {
        Stage2PageTable pgt = NewTable("4K", 40);
        Assert.Equal(0, pgt.MapPageByPage(Ipa, 2 * M, 0x8000_0000, P("rw"), MemoryCache.Unbounded()));
        // One page out of the table: its pages come as two runs, around the hole.
        Assert.Equal(0, pgt.Unmap(Ipa + 100 * 4 * K, 4 * K));
        Assert.Equal(0, pgt.Map(Ipa + 2 * M, 2 * M, 0x8020_0000, "rw"));

        var calls = new CallLog();
        pgt.VisitLeafBatches(ref calls);

        Assert.Equal(
        [
            $"pages 0x{Ipa:x} x100",
            $"pages 0x{Ipa + 101 * 4 * K:x} x411",
            $"leaf L2 0x{Ipa + 2 * M:x}",
        ], calls.Lines);
    }

    [Fact]
    public void A_range_inside_a_table_gives_only_its_pages()
    {
        Stage2PageTable pgt = NewTable("4K", 40);
        Assert.Equal(0, pgt.MapPageByPage(Ipa, 2 * M, 0x8000_0000, P("rw"), MemoryCache.Unbounded()));

        var calls = new CallLog();
        pgt.VisitLeafBatches(Ipa + 8 * K, 12 * K, ref calls);

        Assert.Equal([$"pages 0x{Ipa + 8 * K:x} x3"], calls.Lines);
    }

    [Fact]
    public void The_ipa_map_splits_a_table_where_device_pages_meet_normal_ones()
    {
        Stage2PageTable pgt = NewTable("4K", 40);
        Assert.Equal(0, pgt.MapPageByPage(Ipa, 1 * M, 0x8000_0000, P("rw") | Prot.Device, MemoryCache.Unbounded()));
        Assert.Equal(0, pgt.MapPageByPage(Ipa + 1 * M, 1 * M, 0x9000_0000, P("rw"), MemoryCache.Unbounded()));

        var final = new FinalState();
        var runs = new LeafRunBuilder(final, fwb: false);
        pgt.VisitLeafBatches(ref runs);
        runs.Flush();

        Assert.Equal(
        [
            new LeafRun(Ipa, Ipa + 1 * M, Granule.LastLevel, 4 * K, Device: true, 256),
            new LeafRun(Ipa + 1 * M, Ipa + 2 * M, Granule.LastLevel, 4 * K, Device: false, 256),
        ], final.Runs);
        Assert.Equal(512, final.Leaves[Granule.LastLevel]);
        Assert.Equal(2 * M, final.MappedBytes[Granule.LastLevel]);
    }

    private struct CallLog : IPageLeavesSink
    {
        public CallLog() => Lines = [];

        public List<string> Lines;

        public readonly void OnLeaf(in LeafEntry leaf) => Lines.Add($"leaf L{leaf.Level} 0x{leaf.Ipa:x}");

        public readonly void OnPages(ulong ipa, ulong pageBytes, ReadOnlySpan<ulong> entries) =>
            Lines.Add($"pages 0x{ipa:x} x{entries.Length}");
    }
}
