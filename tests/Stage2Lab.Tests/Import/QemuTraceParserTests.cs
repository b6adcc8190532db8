using Stage2Lab.Simulation.Import;

namespace Stage2Lab.Tests.Import;

public class QemuTraceParserTests
{
    [Fact]
    public void The_three_kvm_set_user_memory_formats_are_read()
    {
        ParsedRecords r = ImportKit.Parse(RecordFormat.QemuTrace, """
            41874@1587736345.192760:kvm_set_user_memory Slot#65539 flags=0x1 gpa=0xfd000000 size=0x1000000 ua=0x7fadf6800000 ret=0
            kvm_set_user_memory AddrSpace#0 Slot#2 flags=0x4 gpa=0xfeda0000 size=0x20000 ua=0x7fe1ec09f000 ret=-22
              kvm_set_user_memory AddrSpace#0 Slot#4 flags=0x4 gpa=0xe0000 size=0x7ff20000 ua=0x7fc257ee0000 guest_memfd=19 guest_memfd_offset=0xe0000 ret=0
            """);
        Assert.Empty(r.Skipped);
        Assert.Equal(new KvmSlotRecord(1, 3, 1, 0xfd000000, 0x1000000, 0x7fadf6800000, null, 0, KvmSlotTraceFormat.Classic, new("in.txt", 1)), r.Slots[0]);
        Assert.Equal((0, 2, -22, KvmSlotTraceFormat.AddressSpace), (r.Slots[1].AddressSpace, r.Slots[1].Slot, r.Slots[1].Ret, r.Slots[1].Variant));
        Assert.Equal((19, KvmSlotTraceFormat.GuestMemfd, 0x7ff20000UL), (r.Slots[2].GuestMemfd!.Value, r.Slots[2].Variant, r.Slots[2].SizeBytes));
    }

    [Fact]
    public void Vfio_events_are_read_with_inclusive_ends()
    {
        ParsedRecords r = ImportKit.Parse(RecordFormat.QemuTrace, """
            vfio_region_setup Device 0000:01:00.0, region 2 "0000:01:00.0 BAR 2", flags: 0xf, offset: 0x20000000000, size: 0x800000000
            vfio_region_mmap Region 0008:01:00.0 BAR 4 mmaps[0] [0x0 - 0x2e41efffff]
            vfio_listener_region_add_ram region_add [ram] 0x28000000000 - 0x2ae41efffff [0xff5c7e000000]
            vfio_listener_region_del region_del 0x0 - 0xbffff
            vfio_listener_region_add_skip SKIPPING region_add 0xfec00000 - 0xfec00fff
            """);
        Assert.Equal(new VfioRegionRecord("0000:01:00.0", 2, "0000:01:00.0 BAR 2", 0xf, 2UL << 40, 32UL << 30, new("in.txt", 1)), r.VfioRegions.Single());
        Assert.Equal(0x2e41f00000UL, r.VfioMmaps.Single().SizeBytes);
        Assert.Equal((true, 0x28000000000UL, 0x2e41f00000UL, (ulong?)0xff5c7e000000), (r.Listener[0].Add, r.Listener[0].GpaStart, r.Listener[0].SizeBytes, r.Listener[0].Hva));
        Assert.False(r.Listener[1].Add);
        Assert.Contains("vfio_listener_region_add_skip", r.Skipped.Single().Reason);
    }

    [Fact]
    public void Hard_wrapped_events_are_joined_and_cut_ones_reported()
    {
        ParsedRecords r = ImportKit.Parse(RecordFormat.QemuTrace, """
            41874@1587736345.193884:kvm_set_user_memory Slot#3 flags=0x1
            gpa=0xfd000000 size=0x1000000 ua=0x7fadf6800000 ret=0
            vfio_region_setup Device 0000:00:02.0, region 0 "0000:00:02.0 BAR 0", flags: 0x7, offset: 0x0, s
            kvm_set_user_memory AddrSpace#0 Slot#3 flags=0x0 gpa=0x80100
            """);
        Assert.Equal(0x1000000UL, r.Slots.Single().SizeBytes);
        Assert.Equal([3, 4], r.Skipped.Select(s => s.Where.Line));
        Assert.All(r.Skipped, s => Assert.Contains("cut mid-line", s.Reason));
    }
}
