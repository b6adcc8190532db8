using Stage2Lab.Simulation.Import;

namespace Stage2Lab.Tests.Import;

public class HostRecordParserTests
{
    [Fact]
    public void Iomem_nesting_comes_from_indentation_and_zero_addresses_are_skipped()
    {
        ParsedRecords r = ImportKit.Parse(RecordFormat.Iomem, "    80000000-107fffffff : System RAM\n      80210000-8173ffff : Kernel code\n    8000000000-87ffffffff : 0000:01:00.0\n      8000000000-87ffffffff : vfio-pci\n    00000000-00000000 : reserved\n");
        Assert.Equal([0, 1, 0, 1], r.Iomem.Select(i => i.Depth));
        Assert.Equal(32UL << 30, r.Iomem[2].SizeBytes);
        Assert.Contains("without root", r.Skipped.Single().Reason);
    }

    [Fact]
    public void Lspci_vv_gives_each_memory_bar_with_its_index()
    {
        ParsedRecords r = ImportKit.Parse(RecordFormat.Lspci, File.ReadAllText(Path.Combine(ImportKit.SampleDir("synthetic/arm64-gpu-trace"), "lspci.txt")));
        Assert.Empty(r.Skipped);
        Assert.Equal([(0, 0x4000000000UL, 16UL << 20, false), (2, 0x8000000000UL, 32UL << 30, true), (4, 0x8800000000UL, 32UL << 20, true)],
            r.PciBars.Select(b => (b.Index, b.Pa, b.SizeBytes, b.Prefetchable)));
        Assert.Equal("vfio-pci", r.PciDevices.Single().Driver);
    }

    [Fact]
    public void Lspci_v_indexes_are_counted_with_64_bit_bars_taking_two_slots()
    {
        ParsedRecords r = ImportKit.Parse(RecordFormat.Lspci, File.ReadAllText(Path.Combine(ImportKit.SampleDir("synthetic/arm64-64k-pmap"), "lspci.txt")));
        Assert.Equal([0, 2, 5], r.PciBars.Select(b => b.Index));
        Assert.All(r.PciBars, b => Assert.True(b.IndexInferred));
        Assert.Equal("0002:01:00.0", r.PciBars[0].Device);
    }

    [Fact]
    public void Unassigned_and_sizeless_bars_are_skipped_and_headerless_bars_kept()
    {
        ParsedRecords r = ImportKit.Parse(RecordFormat.Lspci, "Region 2: Memory at 220000000000 (64-bit, prefetchable) [size=256G]\n01:00.0 VGA: x\n\tRegion 0: Memory at <unassigned> (32-bit, prefetchable) [size=64M]\n\tRegion 1: Memory at f4800000 (32-bit, non-prefetchable)\n");
        Assert.Equal((LspciParser.UnnamedDevice, 2, 256UL << 30), (r.PciBars.Single().Device, r.PciBars[0].Index, r.PciBars[0].SizeBytes));
        Assert.Equal(2, r.Skipped.Count);
        Assert.Contains("no address assigned", r.Skipped[0].Reason);
        Assert.Contains("no [size=", r.Skipped[1].Reason);
        Assert.Equal("0000:01:00.0", r.PciDevices[1].Device);
    }
}
