using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.PageTables;
using Stage2Lab.Reports;
using static Stage2Lab.Tests.Kvm.FaultScripts;

namespace Stage2Lab.Tests.Kvm;

/// <summary>
/// The decision record of a fault (issue 3, "Explain"): each step names the kernel function it comes from, says
/// whether its test passed, and carries the numbers (residues, bounds) the test used.
/// </summary>
public class ExplainDecisionTests
{
    private static KvmVm BarVm(string policy, ulong vmaSize, ulong pgoff, ulong slotIpa, ulong slotSize, bool pmd = false)
    {
        var host = NewHost(Granule.Size4K);
        Assert.True(host.AddVma(new Stage2Lab.Host.Vma
        {
            Start = 0x7f0000000000,
            End = 0x7f0000000000 + vmaSize,
            Kind = Stage2Lab.Host.VmaKind.PfnMap,
            PgOff = pgoff,
            HostPmd = pmd,
        }).Succeeded);
        var vm = NewVm(host, policy);
        Assert.True(vm.SetUserMemoryRegion(0, slotIpa, slotSize, 0x7f0000000000, MemslotFlags.None).Succeeded);
        return vm;
    }

    private static string Text(DecisionStep s) => DecisionText.Describe(s);

    private static DecisionStep Step(DecisionRecord x, string function, bool? passed, string containing) =>
        Assert.Single(x.Steps, s => s.Function == function && s.Passed == passed && Text(s).Contains(containing, StringComparison.Ordinal));

    [Fact]
    public void V6_18_block_past_the_vma_end_is_explained_with_the_literal_align_test()
    {
        // VMA 3M, slot 4M: the fault on 0x8000200000 (hva 0x7f0000200000, 2M-aligned) maps a 2M block past vm_end.
        KvmVm vm = BarVm("v6.18", 3UL << 20, 0x2000000, 0x8000000000, 4UL << 20);
        var x = new DecisionRecord();
        FaultResult r = vm.Access(0x8000200000, AccessKind.Read, x);

        Assert.Equal("v6.18", x.Policy); // the record says which fault path decided
        Assert.Equal(0x8000200000UL, x.Ipa); // the faulting IPA
        Assert.Equal(AccessKind.Read, x.Access);
        Assert.Equal(0x7f0000200000UL, x.Hva); // slot HVA + (IPA - slot IPA)
        Assert.Contains("pfnmap pgoff 0x2000000", DecisionText.Vma(x.Vma!.Value)); // the VMA found
        Assert.Contains("0x8000400000", DecisionText.Slot(x.Slot!.Value)); // the slot found, with its end
        Step(x, "vma_lookup", true, "0x7f0000300000"); // the VMA and its end
        // PUD: hva ≡ pa ≡ 0x200000 (mod 1G), ALIGN_DOWN = vm_start, but ALIGN(hva, 1G) = 0x7f0040000000 > vm_end
        Step(x, "get_vma_page_shift", false, "1G: ALIGN(hva) 0x7f0040000000 > vm_end 0x7f0000300000");
        // PMD: ALIGN(hva, 2M) == hva, so the test passes though the block runs past vm_end — the record says so
        DecisionStep pmd = Step(x, "get_vma_page_shift", true, "2M: hva ≡ pa ≡ 0x0 (mod 2M)");
        Assert.Contains("ALIGN(hva) 0x7f0000200000 ≤ vm_end 0x7f0000300000", Text(pmd));
        Assert.Contains("runs past vm_end 0x7f0000300000 unchecked", Text(pmd));
        // the slot check: IPA/HVA offsets agree and [0x7f0000200000, 0x7f0000400000) lies in the slot
        Step(x, "fault_supports_stage2_huge_mapping", true, "[0x7f0000200000, 0x7f0000400000) lies inside the slot's HVA range [0x7f0000000000, 0x7f0000400000)");
        Step(x, "kvm_pgtable_stage2_map", null, "map IPA 0x8000200000 size 2M to PA 0x2000200000 rwd");
        Assert.DoesNotContain(x.Steps, s => s.Function == "transparent_hugepage_adjust"); // device: never upgraded
        Assert.Equal(FaultOutcome.Mapped, x.Result.Outcome);
        Assert.Equal(0x200000UL, x.Result.SizeBytes);
        Assert.Equal(r.Pa, x.Result.Pa);
        Assert.Equal(1, x.Events[Stage2Counter.LeavesInstalledL2]); // one 2M leaf
        Assert.Equal(1, x.Events[Stage2Counter.TablePagesAllocated]); // the L2 table under the L1 root (start level 1 for 40-bit IPA)
    }

    [Fact]
    public void Seed_v3_names_device_rough_page_shift_and_the_residues()
    {
        // pgoff 0x2000003: pa 0x2000204000 for hva 0x7f0000201000 — residues differ for 1G and 2M.
        KvmVm vm = BarVm("seed-v3", 8UL << 20, 0x2000003, 0x8000000000, 8UL << 20);
        var x = new DecisionRecord();
        vm.Access(0x8000201000, AccessKind.Read, x);
        Assert.Equal("seed-v3", x.Policy);
        Step(x, "device_rough_page_shift", false, "1G: hva 0x7f0000201000 ≡ 0x201000 but pa 0x2000204000 (from vm_pgoff 0x2000003) ≡ 0x204000 (mod 1G)");
        Step(x, "device_rough_page_shift", false, "2M: hva 0x7f0000201000 ≡ 0x1000 but pa 0x2000204000 (from vm_pgoff 0x2000003) ≡ 0x4000 (mod 2M)");
        Step(x, "device_rough_page_shift", null, "PAGE_SIZE"); // nothing fits
        Assert.DoesNotContain(x.Steps, s => s.Function == "get_vma_page_shift"); // the seed's function, not the merged one
        Assert.Equal(0x1000UL, x.Result.SizeBytes);
    }

    [Fact]
    public void V5_14_names_the_slot_residues_that_refuse_a_1G_block()
    {
        // slot IPA 0x8080200000 ≡ 0x200000 (mod 1G) while its HVA 0x7f0000000000 ≡ 0.
        KvmVm vm = BarVm("v5.14", 1UL << 30, 0x2000000, 0x8080200000, 256UL << 20);
        var x = new DecisionRecord();
        vm.Access(0x8080200000, AccessKind.Read, x);
        Step(x, "get_vma_page_shift", true, "1G: hva ≡ pa ≡ 0x0 (mod 1G)"); // the VMA allows 1G
        Step(x, "fault_supports_stage2_huge_mapping", false, "1G: slot IPA 0x8080200000 ≡ 0x200000 but slot HVA 0x7f0000000000 ≡ 0x0 (mod 1G)");
        Step(x, "fault_supports_stage2_huge_mapping", true, "2M: IPA/HVA offsets agree (0x0)"); // the slot allows 2M
        Assert.Equal(0x200000UL, x.Result.SizeBytes);
    }

    [Fact]
    public void Thp_adjust_is_explained_with_the_host_leaf_size()
    {
        var host = NewHost(Granule.Size4K);
        Assert.True(host.AddVma(Anon(0x7f0000000000, 4UL << 20, 0x100000000, thp: true)).Succeeded);
        Assert.True(host.AddVma(Anon(0x7f0010000000, 4UL << 20, 0x110000000)).Succeeded);
        var vm = NewVm(host, "v6.18");
        Assert.True(vm.SetUserMemoryRegion(0, 0x40000000, 4UL << 20, 0x7f0000000000, MemslotFlags.None).Succeeded);
        Assert.True(vm.SetUserMemoryRegion(1, 0x50000000, 4UL << 20, 0x7f0010000000, MemslotFlags.None).Succeeded);

        var x = new DecisionRecord();
        vm.Access(0x40345000, AccessKind.Write, x);
        Step(x, "get_vma_page_shift", null, "not VM_PFNMAP: PAGE_SHIFT"); // anon: PAGE_SHIFT first
        Step(x, "transparent_hugepage_adjust", true, "get_user_mapping_size(hva 0x7f0000345000) = 2M ≥ PMD_SIZE: map 2M at IPA 0x40200000, PA 0x100200000");
        Assert.Equal(0x200000UL, x.Result.SizeBytes);

        var y = new DecisionRecord();
        vm.Access(0x50345000, AccessKind.Write, y);
        Step(y, "transparent_hugepage_adjust", false, "get_user_mapping_size(hva 0x7f0010345000) = 4K: not a THP");
        Assert.Equal(0x1000UL, y.Result.SizeBytes);
    }

    [Fact]
    public void V5_13_and_v5_9_thp_checks_name_kvm_is_transparent_hugepage()
    {
        var host = NewHost(Granule.Size4K);
        Assert.True(host.AddVma(Anon(0x7f0000000000, 4UL << 20, 0x100000000, thp: true)).Succeeded);
        Assert.True(host.AddVma(Anon(0x7f0010000000, 4UL << 20, 0x3000000000, thp: true)).Succeeded); // not RAM
        var vm513 = NewVm(host, "v5.13");
        Assert.True(vm513.SetUserMemoryRegion(0, 0x40000000, 4UL << 20, 0x7f0000000000, MemslotFlags.None).Succeeded);
        var x = new DecisionRecord();
        vm513.Access(0x40345000, AccessKind.Read, x);
        Step(x, "kvm_is_transparent_hugepage", true, "PA 0x100345000 is part of a PMD-mapped THP");
        Step(x, "fault_supports_stage2_huge_mapping", true, "2M"); // then the slot check
        Step(x, "transparent_hugepage_adjust", null, "map 2M at IPA 0x40200000, PA 0x100200000");

        var vm59 = NewVm(host, "v5.9");
        Assert.True(vm59.SetUserMemoryRegion(1, 0x50000000, 4UL << 20, 0x7f0010000000, MemslotFlags.None).Succeeded);
        var y = new DecisionRecord();
        FaultResult r = vm59.Access(0x50345000, AccessKind.Read, y);
        Step(y, "kvm_is_device_pfn", null, "PA 0x3000345000 is not RAM"); // device, but force_pte stays false
        Step(y, "kvm_is_transparent_hugepage", false, "pfn 0x3000345 (PA 0x3000345000) is not RAM: pfn_to_page()");
        Assert.True(r.TouchedNonRamPage); // what the script prints as !page-of-nonram-pfn
    }

    [Fact]
    public void Mmio_and_hugetlb_steps()
    {
        var host = NewHost(Granule.Size4K);
        Assert.True(host.AddVma(Hugetlb(0x7f0000000000, 1UL << 30, 1UL << 30, 0x100000000)).Succeeded);
        var vm = NewVm(host, "v6.18");
        Assert.True(vm.SetUserMemoryRegion(0, 0x40000000, 1UL << 30, 0x7f0000000000, MemslotFlags.ReadOnly).Succeeded);

        var x = new DecisionRecord();
        vm.Access(0x40000000, AccessKind.Read, x);
        Step(x, "get_vma_page_shift", null, "hugetlbfs VMA: huge_page_shift = 30 (1G)");
        Step(x, "fault_supports_stage2_huge_mapping", true, "1G: IPA/HVA offsets agree (0x0)");
        Step(x, "kvm_pgtable_stage2_map", null, "map IPA 0x40000000 size 1G to PA 0x100000000 rx"); // READONLY: no W

        var y = new DecisionRecord();
        vm.Access(0x40000000, AccessKind.Write, y);
        Step(y, "gfn_to_hva_memslot_prot", false, "is READONLY and this is a write");
        Step(y, "io_mem_abort", null, "KVM_EXIT_MMIO");
        Assert.Equal(FaultOutcome.Mmio, y.Result.Outcome);

        var z = new DecisionRecord();
        vm.Access(0x90000000, AccessKind.Exec, z);
        Step(z, "gfn_to_hva_memslot_prot", false, "no memslot holds IPA 0x90000000");
        Step(z, "kvm_handle_guest_abort", null, "-ENOEXEC");
        Assert.Null(z.Slot);
    }
    [Fact]
    public void Seed_v3_device_force_pte_only_when_the_size_is_already_a_page()
    {
        // Patch 2/2: force_pte = (vma_pagesize == PAGE_SIZE) for a device pfn.
        KvmVm aligned = BarVm("seed-v3", 4UL << 20, 0x2000000, 0x8000000000, 4UL << 20);
        var x = new DecisionRecord();
        aligned.Access(0x8000201000, AccessKind.Read, x);
        DecisionStep device = Assert.Single(x.Steps, s => s.Function == "kvm_is_device_pfn");
        Assert.Equal("PA 0x2000200000 is not RAM: device", Text(device)); // block start's pfn; 2M size: force_pte stays false
        Assert.Equal(0x200000UL, x.Result.SizeBytes);

        KvmVm unaligned = BarVm("seed-v3", 4UL << 20, 0x2000003, 0x8000000000, 4UL << 20);
        var y = new DecisionRecord();
        unaligned.Access(0x8000201000, AccessKind.Read, y);
        device = Assert.Single(y.Steps, s => s.Function == "kvm_is_device_pfn");
        Assert.Equal("PA 0x2000204000 is not RAM: device, force_pte", Text(device)); // PAGE size: force_pte keeps THP adjust away
        Assert.DoesNotContain(y.Steps, s => s.Function is "kvm_is_transparent_hugepage" or "transparent_hugepage_adjust");

        KvmVm merged = BarVm("v5.14", 4UL << 20, 0x2000003, 0x8000000000, 4UL << 20);
        var z = new DecisionRecord();
        merged.Access(0x8000201000, AccessKind.Read, z);
        // Marc's version: force_pte stays for memory only; `device` itself gates THP adjust
        Step(z, "kvm_is_device_pfn", null, "PA 0x2000204000 is not RAM: device (no THP upgrade)");
    }
}
