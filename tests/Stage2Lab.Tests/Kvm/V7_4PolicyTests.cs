using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.Kvm.Policies;
using Stage2Lab.Reports;
using static Stage2Lab.Tests.Kvm.FaultScripts;

namespace Stage2Lab.Tests.Kvm;

/// <summary>
/// v7.4 (kvmarm/next, the v7.4 cycle: arch/arm64/kvm/mmu.c with kvm_s2_fault_pin_pfn, kvm_s2_resolve_vma_size,
/// kvm_s2_fault_compute_prot, kvm_s2_fault_map): the same decisions as v6.18, but the page IPA is
/// gfn_to_gpa(gfn) with gfn = ALIGN_DOWN(fault_ipa, vma_pagesize) >> PAGE_SHIFT (kvm_s2_fault_get_vma_info),
/// where 6.x passed the HPFAR's 4K-aligned fault_ipa; and explain names 7.x's own functions.
/// </summary>
public class V7_4PolicyTests
{
    [Fact]
    public void V7_4_is_the_newest_kernel_and_a_default_comparison_column()
    {
        Assert.Equal("v7.4", PolicyRegistry.NewestKernel.Name); // run/explain without --policy
        Assert.Contains("v7.4", PolicyRegistry.ComparedNames);
        Assert.True(PolicyRegistry.OrderOf("v6.18") < PolicyRegistry.OrderOf("v7.4")); // kernels oldest first
        Assert.Equal(PolicyKind.Kernel, PolicyRegistry.Find("v7.4")!.Kind);
    }

    [Theory]
    [InlineData("v6.18", "0x40005000", "0x40009000", "0x40005000")]
    [InlineData("v7.4", "0x40004000", "0x40008000", "0x40004000")]
    public void Page_ipas_are_granule_aligned_only_in_v7_4(string policy, string firstMap, string secondMap, string relaxIpa)
    {
        // 16K granule, 40-bit IPA: 2 levels, start level 2 (stage2_pgtable_levels), so the first fault is tfL2.
        // Anonymous memory without THP: get_vma_page_shift = PAGE_SHIFT, get_user_mapping_size = 16K: a page.
        const string script = """
            granule 16K
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 32M anon 0x100000000
            slot 0 0x40000000 32M 0x7f0000000000
            access 0x40005000 w
            access 0x40009000 r
            log 0 on
            access 0x40005000 w
            """;
        AssertLines(
        [
            "slot 5 ok",
            // gfn 0x10001 → HVA 0x7f0000004000 → PA 0x100004000; 6.x maps at fault_ipa, 7.x at gfn_to_gpa(gfn).
            $"access 6 tfL2 -> map {firstMap} 0x4000 0x100004000 rwx",
            // a read fault on a writable slot maps writable (the host page is writable); DIC: +X
            $"access 7 tfL3 -> map {secondMap} 0x4000 0x100008000 rwx",
            // logging write-protected the pages (no eager split); the write relaxes the page it hit, in place
            $"access 9 pfL3 -> relax {relaxIpa} rwx",
        ], Run(script, policy));
    }

    [Fact]
    public void Explain_names_v7_4s_own_functions()
    {
        // A 4M BAR whose vm_pgoff is only page-aligned relative to the HVA: get_vma_page_shift gives PAGE_SHIFT.
        var host = NewHost(Granule.Size4K);
        Assert.True(host.AddVma(PfnMap(0x7f0000000000, 4UL << 20, 0x2000001)).Succeeded);
        KvmVm vm = NewVm(host, "v7.4");
        Assert.True(vm.SetUserMemoryRegion(0, 0x8000000000, 4UL << 20, 0x7f0000000000, MemslotFlags.None).Succeeded);
        var x = new DecisionRecord();
        FaultResult r = vm.Access(0x8000003000, AccessKind.Write, x);

        Assert.Equal(FaultOutcome.Mapped, r.Outcome);
        Assert.Equal((0x8000003000UL, 0x1000UL, 0x2000004000UL), (r.Ipa, r.SizeBytes, r.Pa)); // pa = (pgoff + 3) pages
        string[] functions = [.. x.Steps.Select(s => s.Function)];
        // user_mem_abort → topup_mmu_memcache, kvm_s2_fault_pin_pfn (kvm_s2_fault_get_vma_info: vma_lookup,
        // kvm_s2_resolve_vma_size → get_vma_page_shift; __kvm_faultin_pfn), kvm_s2_fault_compute_prot, kvm_s2_fault_map.
        Assert.Equal(
        [
            "hardware walk", "gfn_to_hva_memslot_prot", "topup_mmu_memcache", "vma_lookup",
            "get_vma_page_shift", "get_vma_page_shift", "get_vma_page_shift", "__kvm_faultin_pfn",
            "kvm_s2_fault_pin_pfn", "kvm_s2_fault_compute_prot", "kvm_pgtable_stage2_map",
        ], functions);
        Assert.Contains("map_non_cacheable", DecisionText.Describe(x.Steps[8])); // 7.x's name for s2_force_noncacheable
        Assert.DoesNotContain(functions, f => f == "user_mem_abort"); // nothing is decided in the driver itself
    }

    [Fact]
    public void Dirty_logging_caps_max_map_size_in_kvm_s2_resolve_vma_size()
    {
        // 7.x replaced force_pte with max_map_size = PAGE_SIZE (kvm_s2_resolve_vma_size); the binding constraint says so.
        var host = NewHost(Granule.Size4K);
        Assert.True(host.AddVma(Hugetlb(0x7f0000000000, 1UL << 30, 1UL << 30, 0x100000000)).Succeeded);
        KvmVm vm = NewVm(host, "v7.4");
        Assert.True(vm.SetUserMemoryRegion(0, 0x40000000, 1UL << 30, 0x7f0000000000, MemslotFlags.LogDirtyPages).Succeeded);
        var x = new DecisionRecord();
        FaultResult r = vm.Access(0x40201000, AccessKind.Write, x);

        Assert.Equal((0x40201000UL, 0x1000UL, 0x100201000UL), (r.Ipa, r.SizeBytes, r.Pa));
        var cap = Assert.IsType<MaxMapSizeStep>(x.BindingConstraint);
        Assert.Equal(MaxMapSizeReason.DirtyLogging, cap.Reason);
        Assert.Equal("kvm_s2_resolve_vma_size", cap.Function);
        Assert.True(r.MarkedDirty); // mark_page_dirty_in_slot at the canonical gfn
    }

    [Fact]
    public void A_permission_fault_on_a_block_keeps_its_size_in_kvm_s2_fault_map()
    {
        // DIC off: the THP block maps rw- (no X); the fetch is a permission fault at L2 whose 2M granule is kept
        // (perm_fault_granule > PAGE_SIZE) and relaxed in place. The gfn stays the one aligned to vma_pagesize
        // (PAGE_SIZE): kvm_s2_fault_map realigns only the canonical IPA, so relax_perms gets the faulting page.
        var host = NewHost(Granule.Size4K);
        Assert.True(host.AddVma(Anon(0x7f0000000000, 4UL << 20, 0x100000000, thp: true)).Succeeded);
        KvmVm vm = NewVm(host, "v7.4", dic: false);
        Assert.True(vm.SetUserMemoryRegion(0, 0x40000000, 4UL << 20, 0x7f0000000000, MemslotFlags.None).Succeeded);
        FaultResult first = vm.Access(0x40201000, AccessKind.Read);
        Assert.Equal((FaultOutcome.Mapped, 0x40200000UL, 0x200000UL, 0x100200000UL, Prot.RW), (first.Outcome, first.Ipa, first.SizeBytes, first.Pa, first.Prot));
        var x = new DecisionRecord();
        FaultResult r = vm.Access(0x40202000, AccessKind.Exec, x);

        Assert.Equal((FaultOutcome.Relaxed, 0x40202000UL, Prot.R | Prot.W | Prot.X), (r.Outcome, r.Ipa, r.Prot));
        Assert.Contains(x.Steps, s => s is FaultGranuleKeptStep { SizeBytes: 0x200000 } && s.Function == "kvm_s2_fault_map");
        Assert.Equal(1, vm.Mmu.FaultCacheTopUps); // only the translation fault topped the memcache up
    }
}
