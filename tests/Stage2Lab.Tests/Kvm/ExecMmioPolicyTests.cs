using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using static Stage2Lab.Tests.Kvm.FaultScripts;

namespace Stage2Lab.Tests.Kvm;

/// <summary>
/// kvm_handle_guest_abort's exits and refusals under every policy: instruction fetch from device memory
/// (-ENOEXEC, an abort injected), MMIO exits outside every memslot and on writes to READONLY slots, fetches
/// outside every memslot (-ENOEXEC), and an IPA beyond the VM's IPA size.
/// </summary>
public class ExecMmioPolicyTests
{
    public static TheoryData<string> Policies() => new(AllPolicies);

    private const string Script = """
        granule 4K
        ipa-bits 36
        policy POLICY
        ram 0x80000000 16G
        vma 0x7f0000000000 2M pfnmap 0x2000000
        vma 0x7f0010000000 2M anon 0x100000000
        slot 0 0x800000000 2M 0x7f0000000000
        slot 1 0x40000000 2M 0x7f0010000000 ro
        access 0x800001000 x
        access 0x40000000 r
        access 0x40000000 w
        access 0x50000000 r
        access 0x50000000 x
        access 0x40001000 w
        access 0x1000000000 r
        access 0x1000000000 x
        """;

    [Theory]
    [MemberData(nameof(Policies))]
    public void Exec_on_device_mmio_exits_and_read_only_slots(string policy)
    {
        string[] lines = Run(Script, policy);
        string[] expected =
        [
            "slot 7 ok",
            "slot 8 ok",
            policy is "v5.13" or "v5.9"
                ? "access 9 pfL3 -> error ENOEXEC" // the BAR page was mapped (XN) at creation: permission fault, device pfn, -ENOEXEC
                : "access 9 tfL1 -> error ENOEXEC", // 36-bit IPA, 4K: 3 levels from L1; exec fault on a device pfn: -ENOEXEC
            "access 10 tfL1 -> map 0x40000000 0x1000 0x100000000 rx", // READONLY slot: not writable; DIC: +X; no THP in this VMA
            "access 11 pfL3 -> mmio", // write to a READONLY slot: write_fault && !writable -> io_mem_abort
            "access 12 tfL2 -> mmio", // no memslot at 0x50000000: KVM_EXIT_MMIO
            "access 13 tfL2 -> error ENOEXEC", // instruction fetch outside every memslot: -ENOEXEC (pabt injected)
            "access 14 tfL3 -> mmio", // unmapped page of the READONLY slot, write: MMIO without calling user_mem_abort
        ];
        Assert.Equal(expected, lines[..8]);
        // 0x1000000000 = 2^36 is beyond the IPA space. v6.18 (since 5.19's out-of-IPA-range handling) injects an
        // abort for data and instruction aborts alike; the 5.x handlers have no such check: no memslot, so a data
        // abort exits as MMIO and a fetch gets -ENOEXEC.
        if (policy is "v6.18" or "v7.4" or "host-pte")
        {
            Assert.EndsWith(" -> inject", lines[8]); // kvm_inject_sea (data)
            Assert.EndsWith(" -> inject", lines[9]); // kvm_inject_sea (instruction)
        }
        else
        {
            Assert.EndsWith(" -> mmio", lines[8]); // io_mem_abort
            Assert.EndsWith(" -> error ENOEXEC", lines[9]); // is_iabt outside every memslot
        }
        Assert.StartsWith("access 15 tf", lines[8]); // a translation fault
        Assert.StartsWith("access 16 tf", lines[9]);
        Assert.Equal(10, lines.Length);
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Out_of_range_ipa_through_the_library(string policy)
    {
        var host = NewHost(Granule.Size4K);
        var vm = NewVm(host, policy, ipaBits: 36);
        FaultResult r = vm.Access(1UL << 36, AccessKind.Write);
        bool newest = policy is "v6.18" or "v7.4" or "host-pte";
        Assert.Equal(newest ? FaultOutcome.Injected : FaultOutcome.Mmio, r.Outcome); // see the script test above
        Assert.Equal(FaultStatus.Translation, r.Status); // the hardware raises a translation fault for it
        Assert.Equal(FaultOutcome.Mmio, vm.Access((1UL << 36) - 0x1000, AccessKind.Write).Outcome); // last page inside the IPA space, no slot: MMIO everywhere
    }

    [Fact]
    public void Exec_outside_slots_and_on_device_leave_the_table_untouched()
    {
        var host = NewHost(Granule.Size4K);
        Assert.True(host.AddVma(PfnMap(0x7f0000000000, 2UL << 20, 0x2000000)).Succeeded);
        var vm = NewVm(host, "v6.18");
        Assert.True(vm.SetUserMemoryRegion(0, 0x8000000000, 2UL << 20, 0x7f0000000000, MemslotFlags.None).Succeeded);
        FaultResult r = vm.Access(0x8000000000, AccessKind.Exec);
        Assert.Equal(FaultOutcome.Error, r.Outcome);
        Assert.Equal(Errno.ENOEXEC, r.Errno); // exec fault && map_non_cacheable: -ENOEXEC
        Assert.Empty(Leaves(vm)); // nothing mapped
        r = vm.Access(0x9000000000, AccessKind.Exec);
        Assert.Equal(Errno.ENOEXEC, r.Errno); // no memslot, instruction abort
        Assert.Empty(Leaves(vm));
    }
}
