using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.Kvm.Policies;
using static Stage2Lab.Tests.Kvm.FaultScripts;

namespace Stage2Lab.Tests.Kvm;

/// <summary>
/// Faults an L2 guest takes (v7.4), computed by hand from arch/arm64/kvm/mmu.c: kvm_handle_guest_abort's nested
/// path (kvm_walk_nested_s2, kvm_s2_handle_perm_fault, kvm_inject_s2_fault, <c>ipa = kvm_s2_trans_output</c>),
/// kvm_s2_resolve_vma_size's clamp (<c>max_map_size = min(max_map_size, PUD_SIZE);
/// max_map_size = min(kvm_s2_trans_size(nested), max_map_size)</c>, rounded down to PMD_SIZE or PAGE_SIZE when
/// between two host sizes; <c>vma_shift = min(vma_shift, __ffs(max_map_size))</c>), get_canonical_gfn
/// (<c>ALIGN_DOWN(kvm_s2_trans_output, vma_pagesize)</c>), adjust_nested_fault_perms / adjust_nested_exec_perms,
/// and kvm_nested_unmap_cipa_range / kvm_nested_s2_wp.
/// </summary>
public class NestedGuestTests
{
    private const ulong Hva = 0x7f0000000000;

    /// <summary>
    /// L1: 2G of 1G hugetlb pages at HVA 0x7f0000000000 (PA 0x100000000) as slot 0 at IPA 0x40000000 (1G-aligned
    /// in IPA and HVA, so PUD blocks are allowed). The L1 hypervisor's stage 2 for its L2 guest:
    /// L2 0 → L1 0x40000000 (1G, rwx); L2 0x80000000 → L1 0x80000000 (2M, rw); L2 0xc0000000 → L1 0x40200000
    /// (4K, r); L2 0x100000000 → L1 0x70000000 (32M, rwx).
    /// </summary>
    private static KvmVm NestedVm()
    {
        var host = NewHost(Granule.Size4K);
        Assert.True(host.AddVma(Hugetlb(Hva, 2UL << 30, 1UL << 30, 0x100000000)).Succeeded);
        var l1 = new GuestStage2(
        [
            new L1Stage2Mapping(0x0, 1UL << 30, 0x40000000, Prot.RWX),
            new L1Stage2Mapping(0x80000000, 2UL << 20, 0x80000000, Prot.RW),
            new L1Stage2Mapping(0xc0000000, 0x1000, 0x40200000, Prot.R),
            new L1Stage2Mapping(0x100000000, 32UL << 20, 0x70000000, Prot.RWX),
        ], host.Config.PageSize);
        var vm = new KvmVm(new VmConfig { Granule = Granule.Size4K, IpaBits = 40, MaxSlots = 512, NestedStage2 = l1 }, host, PolicyRegistry.Create("v7.4"));
        Assert.True(vm.SetUserMemoryRegion(0, 0x40000000, 2UL << 30, Hva, MemslotFlags.None).Succeeded);
        return vm;
    }

    private static (FaultOutcome, ulong Ipa, ulong Size, ulong Pa, Prot) Map(FaultResult r) => (r.Outcome, r.Ipa, r.SizeBytes, r.Pa, r.Prot);

    [Fact]
    public void The_shadow_mapping_is_clamped_by_the_l1_leaf_size()
    {
        KvmVm vm = NestedVm();
        // L1 leaf 1G: vma_shift 30 (hugetlb, PUD allowed); max_map_size = min(PUD, 1G) = 1G; shift 30; gfn 0,
        // canonical ALIGN_DOWN(0x40005000, 1G) = 0x40000000 → PA 0x100000000.
        Assert.Equal((FaultOutcome.Mapped, 0x0UL, 1UL << 30, 0x100000000UL, Prot.RWX), Map(vm.AccessNested(0x5000, AccessKind.Read)));
        // L1 leaf 2M: min(2M, 1G) = 2M ∈ [PMD, PUD): PMD; shift min(30, 21) = 21; gfn ALIGN_DOWN(0x80001000, 2M)
        // = 0x80000000, canonical 0x80000000 → HVA 0x7f0040000000 → PA 0x140000000; the L1 leaf is not executable:
        // adjust_nested_exec_perms drops the X that DIC added.
        Assert.Equal((FaultOutcome.Mapped, 0x80000000UL, 2UL << 20, 0x140000000UL, Prot.RW), Map(vm.AccessNested(0x80001000, AccessKind.Write)));
        // L1 leaf 4K: min(4K, 1G) ∈ [PAGE, PMD): PAGE; shift 12, max_map_size PAGE (no THP); canonical 0x40200000 →
        // PA 0x100200000; adjust_nested_fault_perms drops W (the L1 leaf is read-only), exec drops X: r.
        Assert.Equal((FaultOutcome.Mapped, 0xc0000000UL, 0x1000UL, 0x100200000UL, Prot.R), Map(vm.AccessNested(0xc0000000, AccessKind.Read)));
        // L1 leaf 32M (a 16K-granule block): min(32M, 1G) = 32M ∈ [PMD, PUD): PMD. gfn ALIGN_DOWN(0x100345000, 2M)
        // = 0x100200000; canonical ALIGN_DOWN(0x70345000, 2M) = 0x70200000 → HVA 0x7f0030200000 → PA 0x130200000.
        var x = new DecisionRecord();
        Assert.Equal((FaultOutcome.Mapped, 0x100200000UL, 2UL << 20, 0x130200000UL, Prot.RWX), Map(vm.AccessNested(0x100345000, AccessKind.Read, x)));
        var clamp = Assert.Single(x.Steps.OfType<NestedClampStep>());
        Assert.Equal((32UL << 20, 1UL << 30, 2UL << 20, 1UL << 30, 2UL << 20), (clamp.TransSizeBytes, clamp.FromMaxMapSizeBytes, clamp.MaxMapSizeBytes, clamp.FromSizeBytes, clamp.SizeBytes));
        Assert.Same(clamp, x.BindingConstraint);
        Assert.Contains(x.Steps, s => s is CanonicalGfnStep { L1Ipa: 0x70345000, CanonicalIpa: 0x70200000 });

        Assert.Empty(Leaves(vm)); // the canonical stage 2 is untouched: everything went to the shadow one
        Assert.Equal(4, vm.ShadowMmu!.GuestS2MappingCount); // kvm_record_guest_s2_mapping, one per shadow leaf
    }

    [Fact]
    public void Faults_the_l1_stage_2_does_not_allow_go_to_the_l1_hypervisor()
    {
        KvmVm vm = NestedVm();
        // No L1 leaf: kvm_walk_nested_s2 fails and the abort is injected into L1 (kvm_inject_s2_fault).
        FaultResult unmapped = vm.AccessNested(0x50000000, AccessKind.Read);
        Assert.Equal((FaultOutcome.ForwardedToL1, FaultStatus.Translation), (unmapped.Outcome, unmapped.Status));
        // The L1 leaf is read-only: kvm_s2_handle_perm_fault forwards the write.
        Assert.Equal(FaultOutcome.ForwardedToL1, vm.AccessNested(0xc0000000, AccessKind.Write).Outcome);
        // The shadow leaf is rw- (L1 withholds X): the fetch is a shadow permission fault, and L1's to handle.
        Assert.Equal(FaultOutcome.Mapped, vm.AccessNested(0x80001000, AccessKind.Write).Outcome);
        FaultResult fetch = vm.AccessNested(0x80002000, AccessKind.Exec);
        Assert.Equal((FaultOutcome.ForwardedToL1, FaultStatus.Permission, 2), (fetch.Outcome, fetch.Status, fetch.FaultLevel));
        Assert.Equal(FaultOutcome.Hit, vm.AccessNested(0x80002000, AccessKind.Write).Outcome);
    }

    [Fact]
    public void Unmapping_l1_memory_unmaps_what_the_shadow_built_from_it()
    {
        KvmVm vm = NestedVm();
        vm.AccessNested(0x5000, AccessKind.Read);
        vm.AccessNested(0x80001000, AccessKind.Write);
        Assert.Equal(2, FaultScripts.Leaves(vm.ShadowMmu!.Pgt).Count);
        // kvm_arch_flush_shadow_memslot: kvm_stage2_unmap_range, then kvm_nested_unmap_cipa_range over the slot.
        Assert.True(vm.DeleteSlot(0).Succeeded);
        Assert.Empty(FaultScripts.Leaves(vm.ShadowMmu.Pgt));
        Assert.Equal(0, vm.ShadowMmu.GuestS2MappingCount);
        // The L1 IPA is in no memslot any more: an exit to the VMM at the L1 IPA.
        FaultResult r = vm.AccessNested(0x5000, AccessKind.Read);
        Assert.Equal((FaultOutcome.Mmio, 0x40005000UL), (r.Outcome, r.Ipa));
    }

    [Fact]
    public void Dirty_logging_write_protects_the_shadow_and_logs_the_canonical_gfn()
    {
        KvmVm vm = NestedVm();
        Assert.Equal(2UL << 20, vm.AccessNested(0x80001000, AccessKind.Write).SizeBytes);
        // kvm_mmu_wp_memory_region → kvm_nested_s2_wp: the shadow block becomes read-only.
        Assert.True(vm.SetDirtyLogging(0, true).Succeeded);
        // The write is a shadow permission fault at L2 (the 2M block). Logging: max_map_size = PAGE_SIZE, and the
        // clamp keeps PAGE; mapping_size 4K ≠ perm_fault_granule 2M, so a map (not a relax) of the page, and
        // mark_page_dirty_in_slot at the canonical gfn 0x80001 (slot 0's page 0x40001).
        FaultResult w = vm.AccessNested(0x80001000, AccessKind.Write);
        Assert.Equal((FaultOutcome.Mapped, 0x80001000UL, 0x1000UL, 0x140001000UL, Prot.RW), Map(w));
        Assert.True(w.MarkedDirty);
        var gfns = new List<ulong>();
        Assert.True(vm.GetDirtyLog(0, gfns).Succeeded);
        Assert.Equal([0x80001UL], gfns);
    }

    [Fact]
    public void Only_v7_4_models_nested_guests_and_l1_leaves_must_be_real_stage_2_leaves()
    {
        var host = NewHost(Granule.Size4K);
        var l1 = new GuestStage2([new L1Stage2Mapping(0, 0x1000, 0x40000000, Prot.RWX)], 0x1000);
        Assert.Throws<ArgumentException>(() => new KvmVm(new VmConfig { NestedStage2 = l1 }, host, PolicyRegistry.Create("v6.18")));
        Assert.NotNull(GuestStage2.Check(new L1Stage2Mapping(0, 0x3000, 0, Prot.RWX), 0x1000)); // not a leaf size
        Assert.NotNull(GuestStage2.Check(new L1Stage2Mapping(0x1000, 2UL << 20, 0, Prot.RWX), 0x1000)); // not aligned
        Assert.NotNull(GuestStage2.Check(new L1Stage2Mapping(0, 0x1000, 0, Prot.RWX), 0x10000)); // below a 64K host page
        Assert.Null(GuestStage2.Check(new L1Stage2Mapping(0, 32UL << 20, 32UL << 20, Prot.R), 0x1000));
    }
}
