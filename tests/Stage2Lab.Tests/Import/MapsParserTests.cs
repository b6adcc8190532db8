using Stage2Lab.Simulation.Import;

namespace Stage2Lab.Tests.Import;

public class MapsParserTests
{
    private const string Smaps = """
        fffb00000000-ffff00000000 rw-p 00000000 00:00 0
        Size:           16777216 kB
        KernelPageSize:        4 kB
        AnonHugePages:  16777216 kB
        THPeligible:    1
        VmFlags: rd wr mr mw me ac hg
        fff2c0201000-fffac0201000 rw-s 20000000000 00:0e 1050                   anon_inode:[vfio-device]
        KernelPageSize:        4 kB
        VmFlags: rd wr sh mr mw me ms pf io de dd
        """;

    [Fact]
    public void Smaps_fields_attach_to_the_vma_above_them()
    {
        ParsedRecords r = ImportKit.Parse(RecordFormat.Smaps, Smaps);
        Assert.Empty(r.Skipped);
        Assert.Equal(2, r.Vmas.Count);
        VmaRecord ram = r.Vmas[0];
        Assert.Equal(0xfffb00000000UL, ram.Start);
        Assert.Equal(16UL << 30, ram.SizeBytes);
        Assert.Equal(4096UL, ram.KernelPageSizeBytes);
        Assert.Equal(16UL << 30, ram.AnonHugePagesBytes);
        Assert.True(ram.ThpEligible);
        Assert.True(ram.HasFlag("hg"));
        Assert.Equal("", ram.Path);
        VmaRecord bar = r.Vmas[1];
        Assert.Equal(2UL << 40, bar.OffsetBytes);
        Assert.True(bar.Shared);
        Assert.True(bar.HasFlag("pf") && bar.HasFlag("io"));
        Assert.Equal(VmaRole.Vfio, VmaClassifier.Classify(bar, 4096));
        Assert.Equal(VmaRole.Anonymous, VmaClassifier.Classify(ram, 4096));
        Assert.Equal(new SourceRef("in.txt", 7), bar.Where);
        Assert.Equal(new SourceRef("in.txt", 9), bar.VmFlagsWhere);
    }

    [Fact]
    public void A_wrapped_header_and_a_wrapped_path_are_joined()
    {
        ParsedRecords r = ImportKit.Parse(RecordFormat.Maps, "7f0b5c5f4000-7f0b5c5f5000 rw-s e2c20000 00:0e 13653\n  anon_inode:[vfio-device]\nffff20000000-ffff20400000 rw-s\n40000000000 00:0e 1050 anon_inode:[vfio-device]\n");
        Assert.Empty(r.Skipped);
        Assert.Equal(["anon_inode:[vfio-device]", "anon_inode:[vfio-device]"], r.Vmas.Select(v => v.Path));
        Assert.Equal(4UL << 40, r.Vmas[1].OffsetBytes);
    }

    [Fact]
    public void A_header_cut_mid_line_zero_addresses_and_orphan_fields_are_skipped_with_reasons()
    {
        ParsedRecords r = ImportKit.Parse(RecordFormat.Smaps, "Size: 4 kB\nffff30000000-ffff300\n00000000-00000000 rw-p 00000000 00:00 0\nhello world\n");
        Assert.Empty(r.Vmas);
        Assert.Equal(4, r.Skipped.Count);
        Assert.Contains("no VMA header above it", r.Skipped[0].Reason);
        Assert.Contains("cut short", r.Skipped[1].Reason);
        Assert.Contains("zero addresses", r.Skipped[2].Reason);
        Assert.Contains("not a line of /proc/PID/smaps", r.Skipped[3].Reason);
    }

    [Fact]
    public void A_column_before_the_header_is_ignored()
    {
        ParsedRecords r = ImportKit.Parse(RecordFormat.Maps, "16G 7f14abe00000-7f18abe00000 rw-p 00000000 00:00 0 \n256M 7f1430000000-7f1440000000 rw-s 10000000000 00:11 3101 anon_inode:[vfio-device]\n");
        Assert.Empty(r.Skipped);
        Assert.Equal([16UL << 30, 256UL << 20], r.Vmas.Select(v => v.SizeBytes));
    }

    [Fact]
    public void Hugetlb_is_recognised_by_flag_page_size_or_path()
    {
        var v = new VmaRecord { Start = 0, End = 1UL << 30, Perms = "rw-s", OffsetBytes = 0, Device = "0:0", Inode = 1, Path = "/dev/hugepages1G/x", Where = default };
        Assert.Equal(VmaRole.Hugetlb, VmaClassifier.Classify(v, 4096));
        Assert.Equal(1UL << 30, VmaClassifier.HugePageSizeFromPath(v.Path));
        Assert.Equal(2UL << 20, VmaClassifier.HugePageSizeFromPath("/sys/kernel/mm/hugepages/hugepages-2048kB"));
        Assert.Equal(VmaRole.Shmem, VmaClassifier.Classify(new VmaRecord { Start = 0, End = 1, Perms = "rw-s", OffsetBytes = 0, Device = "0:0", Inode = 1, Path = "qemu_back_mem.mem0.mvNUmy (deleted)", Where = default }, 4096));
    }
}
