using Stage2Lab.Simulation.Import;

namespace Stage2Lab.Tests.Import;

public class PmapParserTests
{
    [Fact]
    public void Pmap_x_rows_give_vmas_with_their_offsets_and_mapping_names()
    {
        string text = File.ReadAllText(Path.Combine(ImportKit.SampleDir("real/kata-h100-pmap"), "pmap.txt"));
        ParsedRecords r = ImportKit.Parse(RecordFormat.Pmap, text);
        Assert.Equal(17, r.Vmas.Count);
        VmaRecord bar = r.Vmas.Single(v => v.Start == 0x7137c0000000);
        Assert.Equal(0x57a000000000UL, bar.OffsetBytes);
        Assert.Equal(128UL << 30, bar.SizeBytes);
        Assert.Equal("anon_inode:[vfio-device]", bar.Path);
        Assert.Equal("qemu_back_mem.mem0.mvNUmy (deleted)", r.Vmas.Single(v => v.Start == 0x711ebffff000).Path);
        Assert.Equal("", r.Vmas.Single(v => v.Start == 0x7137bffff000).Path);
    }

    [Fact]
    public void Pmap_xx_reads_kernel_page_size_and_vmflags()
    {
        string text = File.ReadAllText(Path.Combine(ImportKit.SampleDir("synthetic/arm64-64k-pmap"), "pmap.txt"));
        ParsedRecords r = ImportKit.Parse(RecordFormat.Pmap, text);
        Assert.Empty(r.Skipped);
        VmaRecord ram = r.Vmas.Single(v => v.Start == 0xfff800000000);
        Assert.Equal(65536UL, ram.KernelPageSizeBytes);
        Assert.True(ram.HasFlag("hg"));
        Assert.True(ram.ThpEligible);
        VmaRecord bar = r.Vmas.Single(v => v.Start == 0xffff10000000);
        Assert.Equal(["rd", "wr", "sh", "mr", "mw", "me", "ms", "pf", "io", "de", "dd"], bar.VmFlags!);
        Assert.Equal("anon_inode:[vfio-device]", bar.Path);
    }

    [Fact]
    public void Plain_pmap_rows_and_cut_rows_are_skipped_with_reasons()
    {
        ParsedRecords r = ImportKit.Parse(RecordFormat.Pmap,
            "    00007b1040000000 134217728K rw-s-   [ anon ]\nAddress Perm Offset Device Inode Size Rss Mapping\n7f00 rw-p 0 00:00 0 4\n");
        Assert.Contains("use pmap -X", r.Skipped[0].Reason);
        Assert.Contains("cut mid-line", r.Skipped[1].Reason);
        Assert.Empty(r.Vmas);
    }

    [Fact]
    public void Rows_without_a_header_take_the_pmap_x_layout()
    {
        ParsedRecords r = ImportKit.Parse(RecordFormat.Pmap, "ffff00000000 rw-s 30000000000  00:0e 1050 32768 0 0 anon_inode:[vfio-device]\n");
        Assert.Equal(32UL << 20, r.Vmas.Single().SizeBytes);
        Assert.Equal("anon_inode:[vfio-device]", r.Vmas[0].Path);
    }
}
