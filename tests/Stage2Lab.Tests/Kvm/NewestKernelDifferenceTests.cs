using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using static Stage2Lab.Tests.Kvm.FaultScripts;

namespace Stage2Lab.Tests.Kvm;

/// <summary>
/// What only the newest kernel (v6.18, and host-pte on top of it) does: VM_ALLOW_ANY_UNCACHED -> Normal-NC,
/// cacheable PFNMAP only with FWB and DIC (EINVAL at slot creation, EFAULT at fault), and relax_perms setting
/// execute exactly from prot (FEAT_XNX era) where 5.x only ever added permissions.
/// </summary>
public class NewestKernelDifferenceTests
{
    public static TheoryData<string> Policies() => new(AllPolicies);

    [Theory]
    [MemberData(nameof(Policies))]
    public void Allow_any_uncached_maps_normal_nc_only_in_v6_18(string policy)
    {
        const string script = """
            granule 4K
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 4M pfnmap 0x2000000 uncached-ok
            slot 0 0x8000000000 4M 0x7f0000000000
            access 0x8000201000 w
            access 0x8000201000 x
            """;
        string[] expected = policy switch
        {
            "v6.18" or "v7.4" =>
            [
                "slot 5 ok",
                "access 6 tfL1 -> map 0x8000200000 0x200000 0x2000200000 rwn", // VM_ALLOW_ANY_UNCACHED: KVM_PGTABLE_PROT_NORMAL_NC
                "access 7 pfL2 -> error ENOEXEC", // still map_non_cacheable: no execution (the block is XN)
            ],
            "host-pte" =>
            [
                "slot 5 ok",
                "access 6 tfL1 -> map 0x8000201000 0x1000 0x2000201000 rwn", // Normal-NC, a page (host maps 4K)
                "access 7 pfL3 -> error ENOEXEC",
            ],
            "v5.14" or "seed-v3" =>
            [
                "slot 5 ok",
                "access 6 tfL1 -> map 0x8000200000 0x200000 0x2000200000 rwd", // the flag does not exist yet: Device
                "access 7 pfL2 -> error ENOEXEC",
            ],
            _ => ["slot 5 ok", "access 6 hit", "access 7 pfL3 -> error ENOEXEC"], // device pages mapped at creation
        };
        AssertLines(expected, Run(script, policy));
    }

    [Theory]
    [InlineData("v6.18", "off", "on", "slot 7 error EINVAL", "access 8 tfL1 -> mmio")] // no FWB: refused at creation, so no slot there
    [InlineData("v6.18", "on", "off", "slot 7 error EINVAL", "access 8 tfL1 -> mmio")] // no DIC: refused too
    [InlineData("v6.18", "on", "on", "slot 7 ok", "access 8 tfL1 -> map 0x8000000000 0x200000 0x2000000000 rwx")] // FWB+DIC: Normal-WB like RAM (DIC: +X)
    [InlineData("host-pte", "on", "on", "slot 7 ok", "access 8 tfL1 -> map 0x8000000000 0x1000 0x2000000000 rwx")] // host-pte: 4K host leaf
    [InlineData("v5.14", "off", "on", "slot 7 ok", "access 8 tfL1 -> map 0x8000000000 0x200000 0x2000000000 rwd")] // 5.15 ignores the VMA's memory type: Device
    public void Cacheable_pfnmap_needs_fwb_and_dic(string policy, string fwb, string dic, string slotLine, string accessLine)
    {
        const string script = """
            granule 4K
            fwb FWB
            dic DIC
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 4M pfnmap 0x2000000 cacheable
            slot 0 0x8000000000 4M 0x7f0000000000
            access 0x8000000000 w
            """;
        string text = script.Replace("FWB", fwb, StringComparison.Ordinal).Replace("DIC", dic, StringComparison.Ordinal);
        AssertLines([slotLine, accessLine], Run(text, policy));
    }

    [Fact]
    public void Cacheable_pfnmap_appearing_after_the_slot_faults_with_efault()
    {
        // The VMM registers the slot over a hole, then mmaps a cacheable BAR there: prepare saw no VMA, so the
        // fault path's kvm_supports_cacheable_pfnmap() check is what refuses it.
        var host = NewHost(Granule.Size4K);
        var vm = NewVm(host, "v6.18", fwb: false);
        KvmResult created = vm.SetUserMemoryRegion(0, 0x8000000000, 4UL << 20, 0x7f0000000000, MemslotFlags.None);
        Assert.True(created.Succeeded); // holes with no VMA are allowed
        Assert.True(host.AddVma(PfnMap(0x7f0000000000, 4UL << 20, 0x2000000, cacheable: true)).Succeeded);
        FaultResult r = vm.Access(0x8000000000, AccessKind.Read);
        Assert.Equal(FaultOutcome.Error, r.Outcome);
        Assert.Equal(Errno.EFAULT, r.Errno); // cacheable PFNMAP of a non-RAM pfn without FWB: -EFAULT
        Assert.Empty(Leaves(vm));

        KvmResult refused = vm.SetUserMemoryRegion(1, 0x8010000000, 4UL << 20, 0x7f0000000000, MemslotFlags.None);
        Assert.Equal(Errno.EINVAL, refused.Errno); // now prepare sees the VMA
        Assert.Contains("FWB and DIC", Stage2Lab.Reports.RefusalText.Describe(refused.Refusal!)); // and says why
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Relax_sets_execute_exactly_from_prot_only_in_v6_18(string policy)
    {
        // DIC off, logging on: a read maps R only; a fetch relaxes to R+X; a write relaxes to R+W (prot has no X).
        const string script = """
            granule 4K
            dic off
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 2M anon 0x100000000
            slot 0 0x40000000 2M 0x7f0000000000 log
            access 0x40000000 r
            access 0x40000000 x
            access 0x40000000 w
            access 0x40000000 x
            access 0x40000000 w
            """;
        string[] expected = policy switch
        {
            // FEAT_XNX-era relax_perms: XN follows prot, so the write's relax makes the page non-executable again
            "v6.18" or "v7.4" or "host-pte" =>
            [
                "slot 6 ok",
                "access 7 tfL1 -> map 0x40000000 0x1000 0x100000000 r", // logging, read: not writable; no DIC: no X
                "access 8 pfL3 -> relax 0x40000000 rx", // exec permission fault: prot R|X
                "access 9 pfL3 -> relax 0x40000000 rw", // write: prot R|W, XN set again
                "access 10 pfL3 -> relax 0x40000000 rx", // so the next fetch faults again
                "access 11 hit", // relax adds R/W only: W stayed
            ],
            // 5.10-rc1: a write under logging calls map (not relax), which replaces the leaf with R|W, no X
            "v5.9" =>
            [
                "slot 6 ok",
                "access 7 tfL1 -> map 0x40000000 0x1000 0x100000000 r",
                "access 8 pfL3 -> relax 0x40000000 rx",
                "access 9 pfL3 -> map 0x40000000 0x1000 0x100000000 rw", // !(logging_active && writable) is false: map
                "access 10 pfL3 -> relax 0x40000000 rx",
                "access 11 hit",
            ],
            // 5.12-5.15 relax_perms only adds permissions: X stays after the write's relax
            _ =>
            [
                "slot 6 ok",
                "access 7 tfL1 -> map 0x40000000 0x1000 0x100000000 r",
                "access 8 pfL3 -> relax 0x40000000 rx",
                "access 9 pfL3 -> relax 0x40000000 rw",
                "access 10 hit",
                "access 11 hit",
            ],
        };
        AssertLines(expected, Run(script, policy));
    }
    [Theory]
    [InlineData("v5.9", "rwd", true, 0x1000UL)]
    [InlineData("v5.13", "rwd", false, 0x1000UL)]
    [InlineData("seed-v3", "rwd", false, 0x200000UL)]
    [InlineData("v5.14", "rwd", false, 0x200000UL)]
    [InlineData("v6.18", "rwx", false, 0x200000UL)]
    [InlineData("host-pte", "rwx", false, 0x1000UL)]
    public void Fault_time_remap_vma_device_detection(string policy, string firstProt, bool touchesNonRamPage, ulong secondSize)
    {
        // The mdev-style VMA of 91a2c34b7d6f: VM_PFNMAP only once the host fault handler has run.
        var host = NewHost(Granule.Size4K);
        Assert.True(host.AddVma(new Stage2Lab.Host.Vma
        {
            Start = 0x7f0000000000,
            End = 0x7f0000400000,
            Kind = Stage2Lab.Host.VmaKind.PfnMap,
            PgOff = 0x2000000,
            PfnMapAtFirstFault = true,
        }).Succeeded);
        var vm = NewVm(host, policy);
        Assert.True(vm.SetUserMemoryRegion(0, 0x8000000000, 4UL << 20, 0x7f0000000000, MemslotFlags.None).Succeeded);
        Assert.Empty(Leaves(vm)); // not VM_PFNMAP yet: even v5.9/v5.13 map nothing at creation

        FaultResult first = vm.Access(0x8000345000, AccessKind.Write);
        Assert.Equal(0x1000UL, first.SizeBytes); // not PFNMAP at the VMA check: PAGE_SIZE everywhere (the host maps 4K)
        Assert.Equal(0x2000345000UL, first.Pa);
        // v5.x: kvm_is_device_pfn(pfn) -> Device. v6.18 decides by the vm_flags read before __kvm_faultin_pfn, which
        // had no VM_PFNMAP: the device pfn is mapped Normal cacheable (and executable with DIC).
        Assert.Equal(firstProt, first.Prot.ToLetters());
        Assert.Equal(touchesNonRamPage, first.TouchedNonRamPage); // only 5.10-rc1 reaches THP adjust on the device pfn

        // Now the VMA is VM_PFNMAP: 5.13/5.10 force PAGE; the lazy policies size from vm_pgoff (1G fails the slot,
        // 2M fits); host-pte follows the host's 4K leaf.
        FaultResult second = vm.Access(0x8000000000, AccessKind.Read);
        Assert.Equal(secondSize, second.SizeBytes);
        Assert.Equal("rwd", second.Prot.ToLetters()); // device now for every policy
        Assert.False(second.TouchedNonRamPage); // VM_PFNMAP forces PAGE in 5.10: no THP adjust
    }

    [Theory]
    [InlineData("v6.18", 512, FaultOutcome.Relaxed, 3)]
    [InlineData("v5.14", 1, FaultOutcome.Mapped, 2)]
    public void Eager_split_on_enabling_logging_only_in_v6_18(string policy, int leavesAfterLogOn, FaultOutcome writeOutcome, int faultLevel)
    {
        var host = NewHost(Granule.Size4K);
        Assert.True(host.AddVma(Anon(0x7f0000000000, 4UL << 20, 0x100000000, thp: true)).Succeeded);
        var vm = new KvmVm(new VmConfig { IpaBits = 40, MaxSlots = 512, EagerSplitChunkBytes = 2UL << 20 }, host, Stage2Lab.Kvm.Policies.PolicyRegistry.Create(policy));
        Assert.True(vm.SetUserMemoryRegion(0, 0x40000000, 4UL << 20, 0x7f0000000000, MemslotFlags.None).Succeeded);
        Assert.Equal(0x200000UL, vm.Access(0x40345000, AccessKind.Write).SizeBytes); // THP block

        Assert.True(vm.SetDirtyLogging(0, true).Succeeded);
        // v6.18 commit: kvm_mmu_wp_memory_region then kvm_mmu_split_memory_region (chunk 2M): 512 read-only pages.
        // 5.15 has no eager splitting (KVM_CAP_ARM_EAGER_SPLIT_CHUNK_SIZE is 6.5+): the block stays, write-protected.
        Assert.Equal(leavesAfterLogOn, Leaves(vm).Count);
        FaultResult w = vm.Access(0x40345000, AccessKind.Write);
        Assert.Equal(FaultStatus.Permission, w.Status);
        Assert.Equal(faultLevel, w.FaultLevel); // a page (L3) after the split, the block (L2) without
        Assert.Equal(writeOutcome, w.Outcome); // 4K == fault granule: relax; 4K != 2M: map (break the block)
        var gfns = new List<ulong>();
        Assert.True(vm.GetDirtyLog(0, gfns).Succeeded);
        Assert.Equal([0x40345UL], gfns);
    }
}
