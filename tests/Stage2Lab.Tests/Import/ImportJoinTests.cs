using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Import;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Tests.Import;

public class ImportJoinTests
{
    private static string Sample(string set, string file) => File.ReadAllText(Path.Combine(ImportKit.SampleDir(set), file));

    private static ImportResult GpuTrace() => ImportKit.Import(
        (RecordFormat.Smaps, Sample("synthetic/arm64-gpu-trace", "smaps.txt")),
        (RecordFormat.QemuTrace, Sample("synthetic/arm64-gpu-trace", "qemu-trace.txt")),
        (RecordFormat.Mtree, Sample("synthetic/arm64-gpu-trace", "mtree.txt")),
        (RecordFormat.Iomem, Sample("synthetic/arm64-gpu-trace", "iomem.txt")),
        (RecordFormat.Lspci, Sample("synthetic/arm64-gpu-trace", "lspci.txt")));

    [Fact]
    public void Memslots_come_from_the_replayed_trace_and_bars_from_lspci_iomem_and_the_vfio_offsets()
    {
        ImportResult r = GpuTrace();
        Scenario s = r.Scenario;
        Assert.Equal([(0, 0x0UL, 64UL << 20), (2, 0x10000000UL, 16UL << 20), (1, 0x40000000UL, 16UL << 30), (3, 0x8000000000UL, 32UL << 30), (4, 0x8800000000UL, 32UL << 20)],
            s.Memslots.Select(m => (m.Id, m.Ipa, m.SizeBytes)));
        Assert.Equal(MemslotFlags.ReadOnly, s.Memslots[0].Flags);
        RangeSpec bar2 = s.Host.Devices.Single(d => d.Name == "0000:01:00.0-bar2");
        Assert.Equal((0x8000000000UL, 32UL << 30), (bar2.Base, bar2.SizeBytes));
        VmaSpec mmap = s.Mappings.Single(m => m.Device == bar2.Name);
        Assert.Equal((VmaKind.PfnMap, 0xfff2c0201000UL, 2, 0UL), (mmap.Kind, mmap.Start, mmap.VfioRegionIndex!.Value, mmap.DeviceOffset));
        VmaSpec ram = s.Mappings.Single(m => m.Start == 0xfffb00000000);
        Assert.Equal((VmaKind.Anonymous, true), (ram.Kind, ram.Thp!.Value));
        // The 64 MiB flash VMA is THP-eligible without MADV_HUGEPAGE: transparent_hugepage/enabled is "always".
        Assert.Equal(ThpMode.Always, s.Host.Thp);
        Assert.Contains(r.Facts, f => f.StartsWith("host.thp always", StringComparison.Ordinal) && f.Contains("smaps.txt:"));
        Assert.Equal([(0x80000000UL, 64UL << 30)], s.Host.Ram.Select(x => (x.Base, x.SizeBytes)));
        Assert.DoesNotContain(r.Assumptions, a => a.Kind is AssumptionKind.HostPageSize or AssumptionKind.DevicePa or AssumptionKind.GuestAddress or AssumptionKind.Backing);
        Assert.Contains(r.Assumptions, a => a.Kind == AssumptionKind.BackingPa);
        Assert.Contains(r.Skipped, x => x.Reason.Contains("ret=-17"));
        Assert.Contains(r.Facts, f => f.Contains("replaying 7 kvm_set_user_memory ioctls"));
    }

    [Fact]
    public void Every_item_of_the_written_scenario_names_its_source_line_and_reads_back()
    {
        ImportResult r = GpuTrace();
        string yaml = r.ToYaml();
        string[] lines = yaml.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string t = lines[i].TrimStart();
            if (!t.StartsWith("- {", StringComparison.Ordinal) && !t.StartsWith("- workload", StringComparison.Ordinal))
                continue;
            int k = i - 1;
            bool sourced = false;
            while (k >= 0 && lines[k].TrimStart().StartsWith('#'))
                sourced |= lines[k--].Contains(".txt:", StringComparison.Ordinal) || lines[k + 1].Contains("assumed:", StringComparison.Ordinal);
            Assert.True(sourced, $"line {i + 1} has no source comment: {lines[i]}");
        }
        Assert.Contains("# from smaps.txt:", yaml);
        Scenario back = ScenarioReader.Parse(yaml, "imported.yaml");
        Assert.Equal(r.Scenario.Memslots.Count, back.Memslots.Count);
        Assert.Equal(r.Scenario.Mappings.Select(m => (m.Name, m.Start, m.SizeBytes, m.Pa)), back.Mappings.Select(m => (m.Name, m.Start, m.SizeBytes, m.Pa)));
        Assert.Equal(yaml, GpuTrace().ToYaml());
    }

    [Fact]
    public void Without_a_slot_trace_the_listener_ranges_and_mtree_kvm_rows_make_the_memslots()
    {
        ImportResult r = ImportKit.Import(
            (RecordFormat.Maps, Sample("synthetic/arm64-listener", "maps.txt")),
            (RecordFormat.QemuTrace, Sample("synthetic/arm64-listener", "qemu-trace.txt")),
            (RecordFormat.Mtree, Sample("synthetic/arm64-listener", "mtree.txt")));
        Scenario s = r.Scenario;
        Assert.Equal([(0x10000000UL, 0x8000UL, 0xffff30000000UL), (0x10009000UL, 0xff7000UL, 0xffff30100000UL), (0x11000000UL, 4UL << 20, 0xffff40000000UL),
            (0x40000000UL, 2UL << 30, 0xfffbc0000000UL), (0xc0000000UL, 2UL << 20, 0xfffbc0000000UL + 0x80000000UL)],
            s.Memslots.Select(m => (m.Ipa, m.SizeBytes, m.Hva)));
        Assert.Equal([0x0UL, 0x9000UL], s.Mappings.Where(m => m.Device == "0000:02:00.0-bar0").Select(m => m.DeviceOffset));
        Assert.Contains(r.Assumptions, a => a.Kind == AssumptionKind.SlotId);
    }

    [Fact]
    public void From_host_side_records_alone_guest_addresses_are_assumed_and_listed()
    {
        ImportResult pmapOnly = ImportKit.Import((RecordFormat.Pmap, Sample("real/kata-h100-pmap", "pmap.txt")));
        Assert.Contains(pmapOnly.Assumptions, a => a.Kind == AssumptionKind.GuestAddress);
        Assert.Contains(pmapOnly.Assumptions, a => a.Kind == AssumptionKind.GuestMemory);
        Assert.Contains(pmapOnly.Assumptions, a => a.Kind == AssumptionKind.X86Layout);
        Assert.Contains(pmapOnly.Assumptions, a => a.Kind == AssumptionKind.HostPageSize);
        // vm_pgoff is the BAR's PFN here (older vfio-pci): the device region starts at the offset column.
        RangeSpec bar = pmapOnly.Scenario.Host.Devices.Single(d => d.Base == 0x57a000000000);
        Assert.Equal(128UL << 30, bar.SizeBytes);
        Assert.Null(pmapOnly.Scenario.Mappings.Single(m => m.Device == bar.Name).VfioRegionIndex);

        ImportResult lspciOnly = ImportKit.Import((RecordFormat.Lspci, Sample("real/ubicloud-b200-lspci", "lspci.txt")));
        Assert.Equal([64UL << 20, 256UL << 30, 32UL << 20], lspciOnly.Scenario.Memslots.Select(m => m.SizeBytes));
        Assert.All(lspciOnly.Scenario.Mappings, m => Assert.Equal(VmaKind.PfnMap, m.Kind));
        Assert.Contains(lspciOnly.Assumptions, a => a.Kind == AssumptionKind.Backing);
        Assert.Equal(0x220000000000UL, lspciOnly.Scenario.Host.Devices.Single(d => d.SizeBytes == 256UL << 30).Base);
    }

    [Fact]
    public void A_bar_size_in_lspci_that_differs_from_its_mmap_fails_naming_both_lines()
    {
        ImportException ex = ImportKit.ImportFails(
            (RecordFormat.Lspci, "0000:01:00.0 VGA: x\n\tRegion 0: Memory at 8000000000 (64-bit, prefetchable) [size=16M]\n\tKernel driver in use: vfio-pci\n"),
            (RecordFormat.Maps, "ffff00000000-ffff10000000 rw-s 00000000 00:0e 1050 anon_inode:[vfio-device]\n"));
        Assert.Contains(ex.Messages, m => m.Contains("lspci.txt:2") && m.Contains("maps.txt:1") && m.Contains("16M"));
    }

    [Fact]
    public void Lspci_and_vfio_region_setup_and_iomem_must_agree_on_a_bar()
    {
        ImportException setup = ImportKit.ImportFails(
            (RecordFormat.Lspci, "0000:01:00.0 VGA: x\n\tRegion 2: Memory at 8000000000 (64-bit, prefetchable) [size=16G]\n"),
            (RecordFormat.QemuTrace, "vfio_region_setup Device 0000:01:00.0, region 2 \"0000:01:00.0 BAR 2\", flags: 0xf, offset: 0x20000000000, size: 0x800000000\n"));
        Assert.Contains(setup.Messages, m => m.Contains("lspci.txt:2") && m.Contains("qemu-trace.txt:1") && m.Contains("32G"));
        ImportException iomem = ImportKit.ImportFails(
            (RecordFormat.Lspci, "0000:01:00.0 VGA: x\n\tRegion 2: Memory at 8000000000 (64-bit, prefetchable) [size=16G]\n"),
            (RecordFormat.Iomem, "8000000000-87ffffffff : 0000:01:00.0\n"));
        Assert.Contains(iomem.Messages, m => m.Contains("lspci.txt:2") && m.Contains("iomem.txt:1"));
    }

    [Fact]
    public void Two_records_of_one_vma_that_disagree_fail()
    {
        ImportException ex = ImportKit.ImportFails(
            (RecordFormat.Maps, "ffff00000000-ffff10000000 rw-p 00000000 00:00 0\n"),
            (RecordFormat.Pmap, "ffff00000000 rw-p 00000000 00:00 0 131072 0 0\n"));
        Assert.Contains(ex.Messages, m => m.Contains("maps.txt:1") && m.Contains("pmap.txt:1"));
    }

    [Fact]
    public void Nothing_usable_fails_with_a_summary_per_input_and_the_skipped_lines()
    {
        ImportException ex = ImportKit.ImportFails((RecordFormat.Iomem, Sample("synthetic/no-root", "iomem.txt")));
        Assert.Contains(ex.Messages, m => m.Contains("nothing usable remains"));
        Assert.Contains(ex.Messages, m => m.StartsWith("iomem.txt: /proc/iomem: 0 usable", StringComparison.Ordinal));
        Assert.Equal(7, ex.Skipped.Count(s => s.Reason.Contains("without root")));
    }

    [Fact]
    public void A_trace_of_an_x86_host_keeps_address_space_zero_and_notes_the_layout()
    {
        ImportResult r = ImportKit.Import((RecordFormat.QemuTrace, Sample("real/peterx-dirty-ring", "qemu-trace.txt")));
        Assert.Equal([(9, 0xa0000UL), (3, 0xfd000000UL)], r.Scenario.Memslots.Select(m => (m.Id, m.Ipa)));
        Assert.All(r.Scenario.Memslots, m => Assert.Equal(MemslotFlags.LogDirtyPages, m.Flags));
        Assert.Contains(r.Assumptions, a => a.Kind == AssumptionKind.X86Layout);
        Assert.Equal(6, r.Skipped.Count(s => s.Reason.Contains("address space 1")));
    }

    [Fact]
    public void The_host_page_size_comes_from_smaps_or_the_option_and_hugetlb_sizes_from_kernel_page_size()
    {
        ImportResult r = ImportKit.Import((RecordFormat.Smaps, Sample("synthetic/arm64-16k-hugetlb", "smaps.txt")), (RecordFormat.QemuTrace, Sample("synthetic/arm64-16k-hugetlb", "qemu-trace.txt")));
        Assert.Equal("16K", r.Scenario.Host.PageSize.Name);
        VmaSpec huge = r.Scenario.Mappings.Single(m => m.Kind == VmaKind.Hugetlb);
        Assert.Equal(32UL << 20, huge.HugePageSize);
        Assert.Equal(0UL, huge.Pa!.Value % (32UL << 20));
        Assert.Equal(MemslotFlags.LogDirtyPages, r.Scenario.Memslots.Single(m => m.Id == 1).Flags);
        Assert.DoesNotContain(r.Assumptions, a => a.Kind == AssumptionKind.HostPageSize);
    }
}

public class ImportJoinEdgeTests
{
    [Fact]
    public void A_memslot_that_wraps_the_address_space_is_left_out_with_a_reason()
    {
        ImportResult r = ImportKit.Import((RecordFormat.QemuTrace,
            "kvm_set_user_memory AddrSpace#0 Slot#0 flags=0x0 gpa=0xfffffffffffff000 size=0x2000 ua=0x7f0000000000 ret=0\n" +
            "kvm_set_user_memory AddrSpace#0 Slot#1 flags=0x0 gpa=0x40000000 size=0x200000 ua=0x7f1000000000 ret=0\n"));
        Assert.Equal([1], r.Scenario.Memslots.Select(m => m.Id));
        Assert.Contains(r.Skipped, s => s.Where.Line == 1 && s.Reason.Contains("wraps"));
    }
}
