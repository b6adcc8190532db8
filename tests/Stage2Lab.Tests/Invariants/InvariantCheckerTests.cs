using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Invariants;
using static Stage2Lab.Tests.Invariants.InvariantTestKit;

namespace Stage2Lab.Tests.Invariants;

/// <summary>
/// Each invariant of stage2-model.md §6 broken once (by a kernel policy that really breaks it, or by poking the
/// table where no kernel does) and kept once (an ordinary layout, or the host-pte policy).
/// </summary>
public class InvariantCheckerTests
{
    // ---- leaf inside one memslot ----

    // A 64K (CONT_PTE) hugetlb page faulted 32K before the end of a 1M slot.
    private const string ContPteAtSlotEnd = Ram + """
        vma 0x7f0010000000 2M hugetlb 64K 0x110000000
        slot 1 0x50000000 1M 0x7f0010000000
        access 0x500f8000 r
        """;

    [Fact]
    public void V5_9_maps_a_contiguous_hugetlb_size_past_the_end_of_the_memslot()
    {
        // v5.9 has no CONT_PTE fallback: 64K mapped from the faulting page runs 32K past the slot.
        var (_, found) = Run("policy v5.9\n" + ContPteAtSlotEnd);
        Assert.Equal(Set(InvariantKind.LeafInOneMemslot), Kinds(found));
        Assert.Equal(8, found.Count);
        Assert.All(found, v => Assert.Equal(7, v.EventIndex));
        Assert.Equal(0x50100000UL, found[0].Ipa);
        Assert.Contains("lies in no memslot", found[0].Message);
    }

    [Fact]
    public void V6_18_falls_back_to_a_page_and_keeps_the_leaf_in_the_memslot()
    {
        Assert.Empty(KindsOf("policy v6.18\n" + ContPteAtSlotEnd));
    }

    // ---- leaf inside one VMA ----

    // A BAR VMA of 1G + 5M + 4K behind a 2G memslot (named-bar-vma-ends-mid-block's second BAR).
    private const string SlotLargerThanBar = Ram + """
        vma 0x7f0100000000 0x40501000 pfnmap 0x2100000
        slot 1 0x8100000000 2G 0x7f0100000000
        access 0x8140400000 r
        """;

    [Fact]
    public void V6_18_maps_a_block_past_the_end_of_the_pfnmap_vma()
    {
        var (_, found) = Run("policy v6.18\n" + SlotLargerThanBar);
        InvariantViolation v = Assert.Single(found);
        Assert.Equal(InvariantKind.LeafInOneVma, v.Kind);
        Assert.Equal(0x8140400000UL, v.Ipa);
        Assert.Equal(2, v.Leaf!.Value.Level);
        Assert.Contains("runs 0xff000 bytes past the end of VMA", v.Message);
    }

    [Fact]
    public void Host_pte_keeps_the_leaf_inside_the_vma()
    {
        Assert.Empty(KindsOf("policy host-pte\n" + SlotLargerThanBar));
    }

    // ---- IPA, HVA and PA congruent ----

    // An anonymous VMA whose PA is 4K off, behind a slot whose IPA is 4K off the HVA: IPA and PA agree modulo
    // 2M (so the page table would take a block), HVA does not.
    private const string IpaOffTheHva = Ram + """
        vma 0x7f0000000000 8M anon 0x100001000
        slot 0 0x40001000 6M 0x7f0000000000
        """;

    [Fact]
    public void A_block_whose_hva_is_not_congruent_breaks_congruence_only()
    {
        // No kernel maps it (fault_supports_stage2_huge_mapping refuses): poke the block in directly.
        KvmVm vm = Build(IpaOffTheHva);
        Assert.Equal(0, vm.Stage2.Map(0x40200000, 0x200000, 0x100200000, Prot.RWX, MemoryCache.Unbounded()));
        List<InvariantViolation> found = CheckAll(vm);
        InvariantViolation v = Assert.Single(found);
        Assert.Equal(InvariantKind.AddressesCongruent, v.Kind);
        Assert.Contains("HVA 0x7f00001ff000 is 0x1ff000 bytes into a 0x200000 block, the IPA 0x0", v.Message);
    }

    [Fact]
    public void The_kernel_maps_pages_where_ipa_and_hva_disagree()
    {
        Assert.Empty(KindsOf("policy v6.18\n" + IpaOffTheHva + "\naccess 0x40200000 w\naccess 0x40201000 r\n"));
    }

    // ---- every page maps the PA the host maps ----

    // named-pfnmap-remap-wrong-pa: a pfnmap VMA remapped in pieces; vm_pgoff says it is linear.
    private const string RemappedPieces = Ram + """
        vma 0x7f0000000000 4M pfnmap 0x2000000
        remap 0x7f0000000000 0x1000 0x3000000000
        remap 0x7f0000300000 0x1000 0x3100000000
        slot 0 0x8000000000 4M 0x7f0000000000
        access 0x8000100000 r
        access 0x8000300000 r
        """;

    [Theory]
    [InlineData("v6.18")]
    [InlineData("v5.14")]
    public void Get_vma_page_shift_maps_blocks_over_a_pfnmap_vma_remapped_in_pieces(string policy)
    {
        var (_, found) = Run($"policy {policy}\n" + RemappedPieces);
        Assert.Equal(Set(InvariantKind.PaMatchesHost), Kinds(found));
        Assert.Equal(2, found.Count);
        // The first block takes the PFN of its first (remapped) page, so every other page is off.
        Assert.Contains("page at IPA 0x8000001000 (HVA 0x7f0000001000) is mapped to PA 0x3000001000 but the host maps PA 0x2000001000", found[0].Message);
        Assert.Contains("page at IPA 0x8000300000 (HVA 0x7f0000300000) is mapped to PA 0x2000300000 but the host maps PA 0x3100000000", found[1].Message);
    }

    [Fact]
    public void Host_pte_maps_what_the_host_maps()
    {
        Assert.Empty(KindsOf("policy host-pte\n" + RemappedPieces + "\naccess 0x8000000000 r\naccess 0x8000301000 r\n"));
    }

    [Fact]
    public void A_1G_block_over_a_remapped_vma_is_checked_piece_by_piece()
    {
        // 1G block over a 1G pfnmap whose only remap is one page near the end: the check probes the piece
        // edges, finds that page and reports it, without walking 262,144 pages.
        var (_, found) = Run("policy v6.18\n" + Ram + """
            vma 0x7f0000000000 1G pfnmap 0x2000000
            remap 0x7f003fffe000 0x1000 0x3000000000
            slot 0 0x8000000000 1G 0x7f0000000000
            access 0x8000000000 r
            """);
        InvariantViolation v = Assert.Single(found);
        Assert.Equal(InvariantKind.PaMatchesHost, v.Kind);
        Assert.Equal(1, v.Leaf!.Value.Level);
        Assert.Contains("page at IPA 0x803fffe000 (HVA 0x7f003fffe000) is mapped to PA 0x203fffe000 but the host maps PA 0x3000000000", v.Message);
    }

    [Fact]
    public void Pages_mapped_at_slot_creation_from_vm_pgoff_are_reported_page_by_page()
    {
        // v5.13 maps a new slot's PFNMAP VMA page by page from vm_pgoff, ignoring the remap: the checker
        // takes each table's 512 contiguous pages as one range and names exactly the two wrong pages.
        var (_, found) = Run("policy v5.13\n" + RemappedPieces);
        Assert.Equal(Set(InvariantKind.PaMatchesHost), Kinds(found));
        Assert.Equal(new[] { 0x8000000000UL, 0x8000300000UL }, found.Select(v => v.Ipa));
        Assert.All(found, v => Assert.Equal(3, v.Leaf!.Value.Level));
        Assert.All(found, v => Assert.Equal(8, v.EventIndex));   // the slot line: mapped at creation
    }

    // ---- device memory attributes ----

    [Fact]
    public void V6_18_maps_an_anonymous_vma_over_non_ram_normal_cacheable()
    {
        // The model's v6.18 decides "device" from VM_PFNMAP|VM_MIXEDMAP only: an anon VMA whose pages are not
        // RAM (the layout of named-device-pfn-in-anon-vma) gets a Normal, executable THP block.
        var (_, found) = Run("policy v6.18\n" + Ram + """
            vma 0x7f0000000000 4M anon 0x3000000000 thp
            slot 0 0x40000000 4M 0x7f0000000000
            access 0x40000000 r
            """);
        InvariantViolation v = Assert.Single(found);
        Assert.Equal(InvariantKind.DeviceMemoryAttributes, v.Kind);
        Assert.Contains("Normal cacheable (MemAttr 0xf) with FWB off", v.Message);
    }

    [Fact]
    public void Normal_nc_needs_vm_allow_any_uncached()
    {
        KvmVm vm = Build(Ram + """
            vma 0x7f0000000000 4M pfnmap 0x2000000
            slot 0 0x8000000000 4M 0x7f0000000000
            """);
        Assert.Equal(0, vm.Stage2.Map(0x8000000000, 0x200000, 0x2000000000, Prot.RW | Prot.NormalNC, MemoryCache.Unbounded()));
        InvariantViolation v = Assert.Single(CheckAll(vm));
        Assert.Equal(InvariantKind.DeviceMemoryAttributes, v.Kind);
        Assert.Contains("lacks VM_ALLOW_ANY_UNCACHED", v.Message);
    }

    [Fact]
    public void Device_normal_nc_and_cacheable_pfnmap_with_fwb_keep_the_device_rules()
    {
        // named-uncached-ok-and-cacheable and named-exec-on-device: Device-nGnRE, Normal-NC with uncached-ok,
        // and a cacheable pfnmap with FWB mapped Normal-WB (executable with DIC) are all allowed.
        Assert.Empty(KindsOf("fwb on\n" + Ram + """
            vma 0x7f0000000000 4M pfnmap 0x2000000 uncached-ok
            vma 0x7f0010000000 4M pfnmap 0x2100000 cacheable
            vma 0x7f0020000000 2M pfnmap 0x2200000
            slot 0 0x8000000000 4M 0x7f0000000000
            slot 1 0x8010000000 4M 0x7f0010000000
            slot 2 0x8020000000 2M 0x7f0020000000
            access 0x8000000000 w
            access 0x8010000000 w
            access 0x8020000000 x
            access 0x8020000000 r
            """));
    }

    // ---- READONLY slot ----

    private const string ReadOnlySlot = Ram + """
        vma 0x7f0000000000 4M anon 0x100000000 thp
        slot 0 0x40000000 4M 0x7f0000000000 ro
        access 0x40001000 r
        access 0x40001000 w
        """;

    [Fact]
    public void A_writable_leaf_in_a_readonly_slot_is_reported()
    {
        KvmVm vm = Build(ReadOnlySlot);
        Assert.Equal(0, vm.Stage2.RelaxPerms(0x40000000, Prot.RW));
        InvariantViolation v = Assert.Single(CheckAll(vm));
        Assert.Equal(InvariantKind.ReadOnlySlotNotWritable, v.Kind);
        Assert.Equal(0x40000000UL, v.Ipa);
    }

    [Fact]
    public void A_readonly_slot_maps_read_only_and_writes_exit_to_the_vmm()
    {
        Assert.Empty(KindsOf(ReadOnlySlot));
    }

    // ---- logging slot: pages, writable only once dirty ----

    private const string LoggingSlot = Ram + """
        vma 0x7f0000000000 8M anon 0x100000000 thp
        slot 0 0x40000000 8M 0x7f0000000000 log
        access 0x40001000 r
        """;

    [Fact]
    public void A_writable_page_that_is_not_dirty_in_a_logging_slot_is_reported()
    {
        KvmVm vm = Build(LoggingSlot);
        Assert.Equal(0, vm.Stage2.RelaxPerms(0x40001000, Prot.RW));
        InvariantViolation v = Assert.Single(CheckAll(vm));
        Assert.Equal(InvariantKind.LoggingSlotLeaves, v.Kind);
        Assert.Contains("gfn 0x40001 is not marked dirty", v.Message);
    }

    [Fact]
    public void A_fault_that_maps_a_writable_block_in_a_logging_slot_is_reported()
    {
        // What a patch that forgot force_pte under logging would do: map the THP block writable (and mark the
        // faulting page dirty, as user_mem_abort does).
        KvmVm vm = Build(LoggingSlot);
        Assert.Equal(0, vm.Stage2.Map(0x40200000, 0x200000, 0x100200000, Prot.RWX, MemoryCache.Unbounded()));
        vm.Memslots.ById(0)!.DirtyBitmap!.Set((0x40234000 - 0x40000000) >> 12);
        var result = new FaultResult { Outcome = FaultOutcome.Mapped, Ipa = 0x40200000, SizeBytes = 0x200000, Pa = 0x100200000, Prot = Prot.RWX };
        var found = new List<InvariantViolation>();
        new InvariantChecker().CheckAccess(vm, 0x40234000, AccessKind.Write, in result, found, eventIndex: 7);
        Assert.Equal(Set(InvariantKind.LoggingSlotLeaves), Kinds(found));
        Assert.Contains(found, v => v.Message.Contains("dirty logging forces PAGE_SIZE"));
        Assert.Contains(found, v => v.Message.Contains("writable L2 block in logging slot 0"));
        Assert.All(found, v => Assert.Equal(7, v.EventIndex));
    }

    [Fact]
    public void Logging_keeps_pages_and_read_only_blocks_left_from_before()
    {
        // named-log-on-after-blocks: write-protected blocks stay until a write splits them lazily.
        Assert.Empty(KindsOf(Ram + """
            vma 0x7f0000000000 8M anon 0x100000000 thp
            vma 0x7f0040000000 1G hugetlb 1G 0x140000000
            slot 0 0x40000000 8M 0x7f0000000000
            slot 1 0x80000000 1G 0x7f0040000000
            access 0x40000000 w
            access 0x80000000 w
            log 0 on
            log 1 on
            access 0x40005000 w
            access 0x40006000 r
            access 0x80345000 w
            dirty 0
            access 0x40005000 w
            log 0 off
            access 0x40003000 w
            """));
    }

    // ---- dirty bitmap holds every write since the last harvest ----

    [Fact]
    public void A_write_whose_dirty_bit_was_lost_is_reported()
    {
        KvmVm vm = Build(LoggingSlot);
        var checker = new InvariantChecker();
        var found = new List<InvariantViolation>();
        FaultResult first = vm.Access(0x40001000, AccessKind.Write);
        checker.CheckAccess(vm, 0x40001000, AccessKind.Write, in first, found, eventIndex: 1);
        Assert.Empty(found);

        // The bit disappears without a harvest (and without write protection): the next write hits.
        vm.Memslots.ById(0)!.DirtyBitmap!.ClearBits(0, 1UL << 1);
        FaultResult second = vm.Access(0x40001000, AccessKind.Write);
        Assert.Equal(FaultOutcome.Hit, second.Outcome);
        checker.CheckAccess(vm, 0x40001000, AccessKind.Write, in second, found, eventIndex: 2);
        InvariantViolation v = Assert.Single(found);
        Assert.Equal(InvariantKind.DirtyBitmapHoldsWrites, v.Kind);
        Assert.Equal(2, v.EventIndex);

        found.Clear();
        checker.CheckAll(vm, found);
        Assert.Equal(Set(InvariantKind.LoggingSlotLeaves, InvariantKind.DirtyBitmapHoldsWrites), Kinds(found));
    }

    [Fact]
    public void Writes_after_a_harvest_fault_and_are_marked_again()
    {
        KvmVm vm = Build(LoggingSlot);
        var checker = new InvariantChecker();
        var found = new List<InvariantViolation>();
        foreach (ulong ipa in new ulong[] { 0x40001000, 0x40002000, 0x40001000 })
        {
            FaultResult r = vm.Access(ipa, AccessKind.Write);
            checker.CheckAccess(vm, ipa, AccessKind.Write, in r, found);
        }
        var gfns = new List<ulong>();
        Assert.True(vm.GetDirtyLog(0, gfns).Succeeded);
        Assert.Equal(new ulong[] { 0x40001, 0x40002 }, gfns);
        checker.NoteDirtyLogHarvested(vm, 0);
        checker.CheckAll(vm, found);

        FaultResult again = vm.Access(0x40002000, AccessKind.Write);
        Assert.Equal(FaultOutcome.Relaxed, again.Outcome);
        checker.CheckAccess(vm, 0x40002000, AccessKind.Write, in again, found);
        checker.CheckAll(vm, found);
        Assert.Empty(found);
    }

    // ---- table refcounts ----

    private const string FourPages = Ram + """
        vma 0x7f0000000000 8M anon 0x100000000
        slot 0 0x40000000 8M 0x7f0000000000
        access 0x40001000 w
        access 0x40002000 r
        access 0x40400000 w
        access 0x40401000 x
        access 0x40201000 r
        """;

    [Fact]
    public void A_table_page_whose_refcount_is_off_is_reported()
    {
        KvmVm vm = Build(FourPages);
        int l3 = TableBelow(vm.Stage2, 0x40001000, 2, out _, out _);
        vm.Stage2.Pool.EntryCount(l3)++;
        InvariantViolation v = Assert.Single(CheckAll(vm));
        Assert.Equal(InvariantKind.TableRefcounts, v.Kind);
        Assert.Equal(l3, v.TablePageId);
        Assert.Contains("has refcount 3 but 2 non-zero entries", v.Message);

        // The incremental check of a page under that table finds it too.
        var found = new List<InvariantViolation>();
        new InvariantChecker().CheckRange(vm, 0x40002000, 0x1000, found);
        Assert.Equal(Set(InvariantKind.TableRefcounts), Kinds(found));
    }

    [Fact]
    public void Refcounts_stay_equal_to_entries_through_maps_unmaps_and_block_replacement()
    {
        KvmVm vm = Build(FourPages);
        Assert.Empty(CheckAll(vm));
        vm.Munmap(0x7f0000001000, 0x1000);             // one page of a table of two
        Assert.Empty(CheckAll(vm));
        vm.Munmap(0x7f0000400000, 0x2000);             // the last two: the L3 table is freed
        Assert.Empty(CheckAll(vm));
        Assert.Equal(0, vm.Stage2.Map(0x40200000, 0x200000, 0x100200000, Prot.RW, MemoryCache.Unbounded())); // block over a table
        Assert.Empty(CheckAll(vm));
    }

    // ---- no unreachable table page ----

    [Fact]
    public void A_table_page_unlinked_but_not_freed_is_reported_as_leaked()
    {
        KvmVm vm = Build(FourPages);
        Stage2PageTable pgt = vm.Stage2;
        int l3 = TableBelow(pgt, 0x40400000, 2, out int parent, out int index);
        pgt.Pool.Page(parent)[index] = 0;
        pgt.Pool.EntryCount(parent)--;                  // the parent's refcount stays right
        InvariantViolation v = Assert.Single(CheckAll(vm));
        Assert.Equal(InvariantKind.TablesReachable, v.Kind);
        Assert.Equal(l3, v.TablePageId);
        Assert.Contains("no table descriptor reaches it: leaked", v.Message);
    }

    [Fact]
    public void A_table_page_freed_while_still_linked_is_reported()
    {
        KvmVm vm = Build(FourPages);
        int l3 = TableBelow(vm.Stage2, 0x40400000, 2, out _, out _);
        vm.Stage2.FreeTable(l3);
        var found = new List<InvariantViolation>();
        new InvariantChecker().CheckRange(vm, 0x40400000, 0x1000, found);
        InvariantViolation v = Assert.Single(found);
        Assert.Equal(InvariantKind.TablesReachable, v.Kind);
        Assert.Contains("which has been freed", v.Message);
        Assert.Equal(Set(InvariantKind.TablesReachable), Kinds(CheckAll(vm)));
    }

    [Fact]
    public void Every_live_table_page_is_reachable_after_faults_munmaps_and_slot_deletion()
    {
        var (vm, found) = Run(FourPages + "\n" + """
            munmap 0x7f0000400000 0x1000
            access 0x40600000 r
            slot-delete 0
            """);
        Assert.Empty(found);
        Assert.Equal(vm.Stage2.Geometry.RootPages, vm.Stage2.LiveTablePagesTotal);
    }

    // ---- THP decision never consulted for a device pfn ----

    // named-device-pfn-in-anon-vma: an anonymous THP VMA whose pages are not RAM.
    private const string DevicePfnInAnonVma = Ram + """
        vma 0x7f0000000000 4M anon 0x3000000000 thp
        slot 0 0x40000000 4M 0x7f0000000000
        access 0x40000000 r
        access 0x40201000 w
        access 0x40201000 x
        """;

    [Fact]
    public void V5_9_consults_thp_for_a_device_pfn()
    {
        var (_, found) = Run("policy v5.9\n" + DevicePfnInAnonVma);
        Assert.Equal(Set(InvariantKind.NoThpOnDevicePfn), Kinds(found));
        Assert.Equal(new[] { 7, 8 }, found.Select(v => v.EventIndex));
        Assert.Contains("91a2c34b7d6f", found[0].Message);
    }

    [Theory]
    [InlineData("v5.13")]
    [InlineData("v5.14")]
    public void After_91a2c34b7d6f_a_device_pfn_never_reaches_thp(string policy)
    {
        Assert.Empty(KindsOf($"policy {policy}\n" + DevicePfnInAnonVma));
    }

    [Fact]
    public void A_violation_carries_the_fault_explanation_when_the_caller_has_one()
    {
        using var source = Simulation.Scripts.ScriptSource.FromText("policy v6.18\n" + SlotLargerThanBar, "t.s2faults");
        List<InvariantViolation> found = ScriptInvariantObserver.Run(source, TextWriter.Null, explainLine: _ => new DecisionRecord());
        InvariantViolation v = Assert.Single(found);
        Assert.NotNull(v.Decision);
        Assert.Contains(v.Decision!.Steps, s => s.Function == "get_vma_page_shift");
    }
}
