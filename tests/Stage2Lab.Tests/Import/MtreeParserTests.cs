using Stage2Lab.Simulation.Import;

namespace Stage2Lab.Tests.Import;

public class MtreeParserTests
{
    [Fact]
    public void Rows_of_the_system_view_are_read_with_offsets_types_and_the_kvm_marker()
    {
        ParsedRecords r = ImportKit.Parse(RecordFormat.Mtree, """
            FlatView #0
             AS "I/O", root: io
             Root memory region: io
              0000000000000000-000000000000ffff (prio 0, i/o): io
            FlatView #1
             AS "memory", root: system
             Root memory region: system
              0000000080089000-0000000080b8ffff (prio 0, ramd): 0000:01:00.0 BAR 0 mmaps[0] @0000000000089000 KVM
              0000000100000000-000000047fffffff (prio 0, ram): pc.ram @0000000080000000 KVM
              00000000ffc00000-00000000ffc83fff (prio 0, nv-romd): system.flash1 owner:{dev id=pflash1}
              0000000009000000-0000000009000fff (prio 0, i/o): pl011
            """);
        Assert.Equal([4], r.Skipped.Select(s => s.Where.Line));
        Assert.Equal(4, r.Mtree.Count);
        MtreeRow bar = r.Mtree[0];
        Assert.Equal(("ramd", 0x89000UL, true), (bar.Type, bar.Offset, bar.Kvm));
        Assert.Equal(("0000:01:00.0", 0, 0), bar.VfioBar!.Value);
        Assert.Equal(0xb07000UL, bar.SizeBytes);
        Assert.Equal(("pc.ram", 0x80000000UL), (r.Mtree[1].Name, r.Mtree[1].Offset));
        Assert.Equal(("romd", "system.flash1", false), (r.Mtree[2].Type, r.Mtree[2].Name, r.Mtree[2].Kvm));
        Assert.NotEmpty(r.X86Evidence);
    }

    [Fact]
    public void Rows_wrapped_before_their_offset_or_lowercase_kvm_are_joined()
    {
        ParsedRecords r = ImportKit.Parse(RecordFormat.Mtree, ">>>   0000000000100000-00000000bfffffff (prio 0, ram): pc.ram\n>>> @0000000000100000 kvm\n>>>   00000000febc0000-00000000febc0fff (prio 0, ramd): 0000:00:1a.0 BAR 0\n>>> mmaps[0] kvm\n");
        Assert.Empty(r.Skipped);
        Assert.Equal((0x100000UL, true), (r.Mtree[0].Offset, r.Mtree[0].Kvm));
        Assert.Equal(("0000:00:1a.0", 0, 0), r.Mtree[1].VfioBar!.Value);
        Assert.True(r.Mtree[1].Kvm);
    }

    [Fact]
    public void The_tree_view_and_alias_rows_are_skipped()
    {
        ParsedRecords r = ImportKit.Parse(RecordFormat.Mtree, "address-space: memory\n  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n    0000000040000000-000000007fffffff (prio 0, ram): alias ram-below @pc.ram 0000000000000000-000000003fffffff\n");
        Assert.Empty(r.Mtree);
        Assert.All(r.Skipped, s => Assert.Contains("info mtree -f", s.Reason));
    }
}
