using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.Kvm.Policies;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Scripts;
using static Stage2Lab.Tests.Kvm.FaultScripts;

namespace Stage2Lab.Tests.Kvm;

/// <summary>
/// Protected KVM (kvm-arm.mode=protected), computed by hand from arch/arm64/kvm/mmu.c:
/// fault_supports_stage2_huge_mapping ("pKVM only supports PMD_SIZE huge-mappings for non-protected VMs":
/// <c>if (vcpu_is_protected(vcpu) || map_size != PMD_SIZE) return false</c>), user_mem_abort's top-up
/// (7.x: <c>if (!perm_fault || memslot_is_logging(memslot) || is_protected_kvm_enabled())</c>; 6.18:
/// <c>!fault_is_perm || (logging_active &amp;&amp; write_fault)</c>), protected_pkvm_mem_abort (pin_user_pages with
/// FOLL_LONGTERM | FOLL_WRITE, -EIO for !folio_test_swapbacked, pkvm_pgtable_stage2_map(gfn_to_gpa(s2vi.gfn),
/// PAGE_SIZE, page_to_phys(page), KVM_PGTABLE_PROT_RWX)), kvm_arch_prepare_memory_region's protected-VM checks,
/// and protected_pkvm_vm_s2_ops (no_stage2_unmap_range, no_age_gfn).
/// </summary>
public class ProtectedKvmTests
{
    private const ulong Hva = 0x7f0000000000;

    private static KvmVm Vm(HostAddressSpace host, string policy, VmFlavor flavor, bool dic = true) =>
        new(new VmConfig
        {
            Granule = host.Config.Granule,
            IpaBits = 40,
            Features = new CpuFeatures(Fwb: false, Dic: dic, RangeTlbi: false),
            MaxSlots = 512,
            Flavor = flavor,
        }, host, PolicyRegistry.Create(policy));

    [Theory]
    [InlineData("v6.18")]
    [InlineData("v7.4")]
    public void Pkvm_on_turns_a_1g_hugetlb_block_into_pmd_blocks(string policy)
    {
        // 1G hugetlb, slot 1G-aligned in IPA and HVA: get_vma_page_shift = PUD_SHIFT; fault_supports_stage2_huge_mapping
        // refuses PUD_SIZE under pKVM, so the switch falls through to PMD_SIZE, which it allows. 4K, 40-bit IPA:
        // 3 levels from level 1, so the first fault is tfL1.
        const string script = """
            granule 4K
            policy POLICY
            pkvm PKVM
            ram 0x80000000 16G
            vma 0x7f0000000000 2G hugetlb 1G 0x100000000
            slot 0 0x40000000 2G 0x7f0000000000
            access 0x40201000 w
            """;
        AssertLines(["slot 6 ok", "access 7 tfL1 -> map 0x40000000 0x40000000 0x100000000 rwx"], Run(script.Replace("PKVM", "off", StringComparison.Ordinal), policy));
        AssertLines(["slot 6 ok", "access 7 tfL1 -> map 0x40200000 0x200000 0x100200000 rwx"], Run(script.Replace("PKVM", "on", StringComparison.Ordinal), policy));
    }

    [Theory]
    [InlineData("v6.18", VmFlavor.Kvm, 1)]
    [InlineData("v6.18", VmFlavor.Pkvm, 1)] // 6.18: a permission fault without logging needs no top-up, pKVM or not
    [InlineData("v7.4", VmFlavor.Kvm, 1)]
    [InlineData("v7.4", VmFlavor.Pkvm, 2)] // 7.x under pKVM: every fault tops the hyp memcache up
    public void Pkvm_tops_the_memcache_up_on_every_fault_from_7_x(string policy, VmFlavor flavor, long topUps)
    {
        // DIC off: the read maps rw- (a translation fault: top-up), the fetch is a permission fault on that page.
        var host = NewHost(Granule.Size4K);
        Assert.True(host.AddVma(Anon(Hva, 2UL << 20, 0x100000000)).Succeeded);
        KvmVm vm = Vm(host, policy, flavor, dic: false);
        Assert.True(vm.SetUserMemoryRegion(0, 0x40000000, 2UL << 20, Hva, MemslotFlags.None).Succeeded);
        Assert.Equal(FaultOutcome.Mapped, vm.Access(0x40001000, AccessKind.Read).Outcome);
        Assert.Equal(FaultOutcome.Relaxed, vm.Access(0x40001000, AccessKind.Exec).Outcome);
        Assert.Equal(topUps, vm.Mmu.FaultCacheTopUps);
    }

    [Fact]
    public void Pkvm_on_is_refused_for_kernels_without_a_protected_kvm_fault_path()
    {
        const string script = """
            granule 4K
            policy v5.14
            pkvm on
            ram 0x80000000 16G
            """;
        using var source = ScriptSource.FromText(script, "t.s2faults");
        var ex = Assert.Throws<ScriptException>(() => S2FaultsScript.Run(source, new StringWriter()));
        Assert.Equal(3, ex.Line); // the pkvm line
        Assert.Contains("v6.18, v7.4", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Vm(NewHost(Granule.Size4K), "v6.18", VmFlavor.ProtectedPkvm)); // 6.18: no protected guests
        Assert.Throws<ArgumentException>(() => Vm(NewHost(Granule.Size4K), "host-pte", VmFlavor.Pkvm)); // proposals: ordinary VMs only
    }

    /// <summary>A protected guest (v7.4) with four slots: THP anon, 1G hugetlb, a BAR, a read-only VMA.</summary>
    private static KvmVm ProtectedGuest()
    {
        var host = NewHost(Granule.Size4K);
        Assert.True(host.AddVma(Anon(Hva, 4UL << 20, 0x100000000, thp: true)).Succeeded);
        Assert.True(host.AddVma(Hugetlb(Hva + (1UL << 30), 1UL << 30, 1UL << 30, 0x140000000)).Succeeded);
        Assert.True(host.AddVma(PfnMap(Hva + (2UL << 30), 2UL << 20, 0x2000000)).Succeeded);
        Assert.True(host.AddVma(new Vma { Start = Hva + (3UL << 30), End = Hva + (3UL << 30) + 0x10000, Kind = VmaKind.Anonymous, BasePa = 0x180000000, Flags = VmFlags.Read }).Succeeded);
        KvmVm vm = Vm(host, "v7.4", VmFlavor.ProtectedPkvm, dic: false);
        Assert.True(vm.SetUserMemoryRegion(0, 0x40000000, 4UL << 20, Hva, MemslotFlags.None).Succeeded);
        Assert.True(vm.SetUserMemoryRegion(1, 1UL << 32, 1UL << 30, Hva + (1UL << 30), MemslotFlags.None).Succeeded);
        Assert.True(vm.SetUserMemoryRegion(2, 0x8000000000, 2UL << 20, Hva + (2UL << 30), MemslotFlags.None).Succeeded);
        Assert.True(vm.SetUserMemoryRegion(3, 0x9000000000, 0x10000, Hva + (3UL << 30), MemslotFlags.None).Succeeded);
        return vm;
    }

    [Fact]
    public void A_protected_guest_gets_rwx_pages_only()
    {
        KvmVm vm = ProtectedGuest();
        // THP-backed: kvm_s2_resolve_vma_size refuses nothing for PAGE_SHIFT, and the THP upgrade is never
        // reached: protected_pkvm_mem_abort maps the pinned page, PAGE_SIZE, RWX (DIC off, a read: still X and W).
        FaultResult r = vm.Access(0x40201000, AccessKind.Read);
        Assert.Equal((FaultOutcome.Mapped, 0x40201000UL, 0x1000UL, 0x100201000UL, Prot.RWX), (r.Outcome, r.Ipa, r.SizeBytes, r.Pa, r.Prot));
        Assert.Equal(FaultOutcome.Hit, vm.Access(0x40201000, AccessKind.Exec).Outcome); // RWX: no permission fault ever
        Assert.Equal(FaultOutcome.Hit, vm.Access(0x40201000, AccessKind.Write).Outcome);

        // 1G hugetlb: get_vma_page_shift = PUD_SHIFT, but fault_supports_stage2_huge_mapping refuses PUD and PMD
        // (vcpu_is_protected), so the gfn is the page's; pin_user_pages then finds a hugetlb folio, which is not
        // swap-backed: -EIO before anything is mapped.
        var x = new DecisionRecord();
        FaultResult huge = vm.Access((1UL << 32) + 0x5000, AccessKind.Write, x);
        Assert.Equal((FaultOutcome.Error, Errno.EIO), (huge.Outcome, huge.Errno));
        Assert.Contains(x.Steps, s => s is HugeMappingCheckStep { Result: HugeMappingResult.ProtectedGuest, SizeBytes: 1UL << 30 });
        Assert.Contains(x.Steps, s => s is HugeMappingCheckStep { Result: HugeMappingResult.ProtectedGuest, SizeBytes: 2UL << 20 });
        Assert.Contains(x.Steps, s => s is ProtectedPinStep { Result: PinResult.NotSwapBacked } && s.Function == "pin_user_pages");

        // A BAR: GUP refuses VM_PFNMAP|VM_IO (check_vma_flags): -EFAULT. A read-only VMA: FOLL_WRITE fails, -EFAULT.
        Assert.Equal(Errno.EFAULT, vm.Access(0x8000001000, AccessKind.Read).Errno);
        Assert.Equal(Errno.EFAULT, vm.Access(0x9000001000, AccessKind.Read).Errno);
        Assert.Single(Leaves(vm)); // only the one page
    }

    [Fact]
    public void A_protected_guests_memslots_are_locked_once_it_ran()
    {
        KvmVm vm = ProtectedGuest();
        // kvm_arch_prepare_memory_region: no dirty logging, no READONLY for a protected VM (-EPERM).
        Assert.Equal(Errno.EPERM, vm.SetDirtyLogging(0, true).Errno);
        Assert.Equal(Errno.EPERM, vm.SetUserMemoryRegion(9, 0xA000000000, 0x10000, Hva, MemslotFlags.ReadOnly).Errno);
        // Before the first run, slots may still move or go.
        Assert.True(vm.SetUserMemoryRegion(3, 0x9100000000, 0x10000, Hva + (3UL << 30), MemslotFlags.None).Succeeded);
        Assert.True(vm.DeleteSlot(3).Succeeded);

        vm.Access(0x40000000, AccessKind.Write); // the first vCPU run creates the hypervisor's VM (pkvm_create_hyp_vm)
        Assert.True(vm.HypVmCreated);
        KvmResult delete = vm.DeleteSlot(0);
        Assert.Equal(Errno.EPERM, delete.Errno);
        Assert.IsType<ProtectedVmSlotsLocked>(delete.Refusal);
        Assert.Equal(Errno.EPERM, vm.SetUserMemoryRegion(0, 0x50000000, 4UL << 20, Hva, MemslotFlags.None).Errno); // a move
        Assert.NotNull(vm.Memslots.ById(0)); // the slot stays
        Assert.True(vm.SetUserMemoryRegion(4, 0xB000000000, 0x10000, Hva + 0x200000, MemslotFlags.None).Succeeded); // creating is fine
    }

    [Fact]
    public void The_host_cannot_unmap_or_age_a_protected_guests_pages()
    {
        KvmVm vm = ProtectedGuest();
        Assert.Equal(FaultOutcome.Mapped, vm.Access(0x40003000, AccessKind.Write).Outcome);
        // protected_pkvm_vm_s2_ops: vm_stage2_unmap_range = no_stage2_unmap_range (the page stays pinned and
        // donated), vm_age_gfn = no_age_gfn.
        Assert.False(vm.AgeHvaRange(Hva, 4UL << 20));
        Assert.True(vm.Munmap(Hva, 4UL << 20).Succeeded);
        Assert.Equal(FaultOutcome.Hit, vm.Access(0x40003000, AccessKind.Read).Outcome);
        LeafEntry leaf = Assert.Single(Leaves(vm));
        Assert.Equal(0x40003000UL, leaf.Ipa);
        // The page stays the guest's (pinned, donated): the checker does not hold it to the host's mapping.
        Assert.Empty(Stage2Lab.Tests.Invariants.InvariantTestKit.CheckAll(vm));
    }
}
