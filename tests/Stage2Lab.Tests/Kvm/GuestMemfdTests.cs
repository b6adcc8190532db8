using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;
using static Stage2Lab.Tests.Kvm.FaultScripts;

namespace Stage2Lab.Tests.Kvm;

/// <summary>
/// guest_memfd slots (KVM_SET_USER_MEMORY_REGION2 with KVM_MEM_GUEST_MEMFD), computed by hand from
/// virt/kvm/kvm_main.c (check_memory_region_flags: no LOG_DIRTY_PAGES, no READONLY with GUEST_MEMFD;
/// kvm_set_memory_region: "Private memslots are immutable, they can only be deleted") and arch/arm64/kvm/mmu.c
/// gmem_abort: 7.x <c>s2vi.vma_pagesize = PAGE_SIZE; s2vi.gfn = ALIGN_DOWN(fault_ipa, PAGE_SIZE) &gt;&gt; PAGE_SHIFT</c>,
/// relax_perms for a permission fault, else map; 6.18 always <c>kvm_pgtable_stage2_map(pgt, fault_ipa, PAGE_SIZE, ...)</c>.
/// The model's guest_memfd is the one the VMM mmaps at the slot's userspace_addr (arm64 takes gmem-only slots).
/// </summary>
public class GuestMemfdTests
{
    private const ulong Hva = 0x7f0000000000;

    /// <summary>A 4M THP-backed mmap of the guest_memfd at <see cref="Hva"/>, PA 0x100000000, as slot 0 at IPA 0x40000000.</summary>
    private static KvmVm GmemVm(string policy, Granule granule, bool dic = true)
    {
        var host = NewHost(granule);
        Assert.True(host.AddVma(Anon(Hva, 64UL << 20, 0x100000000, thp: true)).Succeeded);
        KvmVm vm = NewVm(host, policy, dic: dic);
        Assert.True(vm.SetUserMemoryRegion(0, 0x40000000, 64UL << 20, Hva, MemslotFlags.GuestMemfd).Succeeded);
        return vm;
    }

    [Theory]
    [InlineData("v6.18", 0x40205000UL)] // fault_ipa as HPFAR gives it (4K-aligned)
    [InlineData("v7.4", 0x40204000UL)] // gfn_to_gpa(ALIGN_DOWN(fault_ipa, PAGE_SIZE))
    public void A_guest_memfd_fault_maps_one_page_even_over_a_thp(string policy, ulong ipa)
    {
        // 16K pages: PMD 32M, and the host backs the HVA with a PMD THP — user_mem_abort would map 32M here,
        // gmem_abort maps PAGE_SIZE. The page of gfn 0x10081 is at HVA offset 0x204000: PA 0x100204000.
        KvmVm vm = GmemVm(policy, Granule.Size16K);
        var x = new DecisionRecord();
        FaultResult r = vm.Access(0x40205000, AccessKind.Write, x);
        Assert.Equal((FaultOutcome.Mapped, ipa, 0x4000UL, 0x100204000UL, Prot.RWX), (r.Outcome, r.Ipa, r.SizeBytes, r.Pa, r.Prot));
        Assert.IsType<GmemPageSizeStep>(x.BindingConstraint);
        Assert.Contains(x.Steps, s => s.Function == "kvm_gmem_get_pfn");
        Assert.DoesNotContain(x.Steps, s => s.Function is "vma_lookup" or "transparent_hugepage_adjust"); // no VMA is involved
    }

    [Theory]
    [InlineData("v6.18", FaultOutcome.Mapped)] // 6.18's gmem_abort always maps
    [InlineData("v7.4", FaultOutcome.Relaxed)] // 7.x relaxes on a permission fault
    public void A_permission_fault_on_a_guest_memfd_page(string policy, FaultOutcome outcome)
    {
        // DIC off: a read maps rw- (W unless READONLY, X only for a fetch); the fetch is then a permission fault.
        KvmVm vm = GmemVm(policy, Granule.Size4K, dic: false);
        FaultResult read = vm.Access(0x40001000, AccessKind.Read);
        Assert.Equal((0x40001000UL, 0x1000UL, 0x100001000UL, Prot.RW), (read.Ipa, read.SizeBytes, read.Pa, read.Prot));
        FaultResult fetch = vm.Access(0x40001000, AccessKind.Exec);
        Assert.Equal((outcome, FaultStatus.Permission, Prot.RWX), (fetch.Outcome, fetch.Status, fetch.Prot));
        Assert.Equal(policy == "v6.18" ? 2 : 1, vm.Mmu.FaultCacheTopUps); // 6.18 tops up on every gmem fault, 7.x not on a permission fault
    }

    [Fact]
    public void Guest_memfd_slots_follow_the_generic_memslot_rules()
    {
        var host = NewHost(Granule.Size4K);
        Assert.True(host.AddVma(Anon(Hva, 64UL << 20, 0x100000000)).Succeeded);
        KvmVm vm = NewVm(host, "v7.4");
        // check_memory_region_flags: no dirty logging, no READONLY on a guest_memfd slot.
        Assert.IsType<GuestMemfdFlagsInvalid>(vm.SetUserMemoryRegion(0, 0x40000000, 2UL << 20, Hva, MemslotFlags.GuestMemfd | MemslotFlags.LogDirtyPages).Refusal);
        Assert.IsType<GuestMemfdFlagsInvalid>(vm.SetUserMemoryRegion(0, 0x40000000, 2UL << 20, Hva, MemslotFlags.GuestMemfd | MemslotFlags.ReadOnly).Refusal);
        Assert.True(vm.SetUserMemoryRegion(0, 0x40000000, 2UL << 20, Hva, MemslotFlags.GuestMemfd).Succeeded);
        // Private memslots are immutable: not even re-issued as they are, nor moved, nor logged — only deleted.
        Assert.IsType<GuestMemfdImmutable>(vm.SetUserMemoryRegion(0, 0x40000000, 2UL << 20, Hva, MemslotFlags.GuestMemfd).Refusal);
        Assert.IsType<GuestMemfdImmutable>(vm.SetUserMemoryRegion(0, 0x50000000, 2UL << 20, Hva, MemslotFlags.GuestMemfd).Refusal);
        Assert.Equal(Errno.EINVAL, vm.SetDirtyLogging(0, true).Errno);
        Assert.True(vm.DeleteSlot(0).Succeeded);

        // A kernel before arm64's guest_memfd (6.18) does not know the flag.
        KvmVm old = NewVm(NewHost(Granule.Size4K), "v5.14");
        Assert.IsType<GuestMemfdUnsupported>(old.SetUserMemoryRegion(0, 0x40000000, 2UL << 20, Hva, MemslotFlags.GuestMemfd).Refusal);
    }

    [Fact]
    public void Without_its_page_a_guest_memfd_fault_is_a_memory_fault_exit()
    {
        // The VMM unmaps its mmap of the guest_memfd: the notifier unmaps stage 2, and the model's guest_memfd has
        // no page there any more: kvm_gmem_get_pfn fails (KVM_EXIT_MEMORY_FAULT, -EFAULT).
        KvmVm vm = GmemVm("v7.4", Granule.Size4K);
        Assert.Equal(FaultOutcome.Mapped, vm.Access(0x40001000, AccessKind.Write).Outcome);
        Assert.True(vm.Munmap(Hva, 64UL << 20).Succeeded);
        FaultResult r = vm.Access(0x40001000, AccessKind.Write);
        Assert.Equal((FaultOutcome.Error, Errno.EFAULT), (r.Outcome, r.Errno));
    }
}
