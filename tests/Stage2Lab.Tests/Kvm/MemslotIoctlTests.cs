using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;
using static Stage2Lab.Tests.Kvm.FaultScripts;

namespace Stage2Lab.Tests.Kvm;

/// <summary>
/// KVM_SET_USER_MEMORY_REGION semantics (__kvm_set_memory_region + kvm_arch_prepare_memory_region) and the host's
/// refusals: every refusal is a typed result with the kernel's errno and a sentence, never an exception.
/// </summary>
public class MemslotIoctlTests
{
    public static TheoryData<string> Policies() => new(AllPolicies);

    private const ulong Hva = 0x7f0000000000;
    private const ulong M = 1UL << 20;

    private static KvmVm AnonVm(string policy, bool thp = true)
    {
        var host = NewHost(Granule.Size4K);
        Assert.True(host.AddVma(Anon(Hva, 8 * M, 0x100000000, thp)).Succeeded);
        return NewVm(host, policy);
    }

    private static void AssertRefused(KvmResult r, int errno, string containing)
    {
        Assert.Equal(errno, r.Errno);
        Assert.False(r.Succeeded);
        Assert.Contains(containing, Stage2Lab.Reports.RefusalText.Describe(r.Refusal!), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Refusals_carry_the_kernels_errno_and_a_sentence(string policy)
    {
        KvmVm vm = AnonVm(policy);
        Assert.True(vm.SetUserMemoryRegion(0, 0x40000000, 4 * M, Hva, MemslotFlags.None).Succeeded);

        AssertRefused(vm.SetUserMemoryRegion(1, 0x40200000, 4 * M, Hva, MemslotFlags.None), Errno.EEXIST, "overlaps slot 0"); // IPA overlap with slot 0
        AssertRefused(vm.SetUserMemoryRegion(1, 0x50000000, 0x1800, Hva, MemslotFlags.None), Errno.EINVAL, "size 0x1800"); // size not page-aligned
        AssertRefused(vm.SetUserMemoryRegion(1, 0x50000800, 4 * M, Hva, MemslotFlags.None), Errno.EINVAL, "IPA 0x50000800"); // IPA not page-aligned
        AssertRefused(vm.SetUserMemoryRegion(1, 0x50000000, 4 * M, Hva + 0x800, MemslotFlags.None), Errno.EINVAL, "HVA 0x7f0000000800"); // HVA not page-aligned
        AssertRefused(vm.SetUserMemoryRegion(1, 0xfffffffffffff000, 0x2000, Hva, MemslotFlags.None), Errno.EINVAL, "wraps"); // gpa + size wraps
        AssertRefused(vm.SetUserMemoryRegion(1, 0x50000000, 4 * M, 0xfffffffff000, MemslotFlags.None), Errno.EINVAL, "access_ok"); // HVA range beyond the 48-bit user VA
        AssertRefused(vm.SetUserMemoryRegion(1, (1UL << 40) - 2 * M, 4 * M, Hva, MemslotFlags.None), Errno.EFAULT, "40-bit IPA space"); // ends 2M past 2^40
        AssertRefused(vm.SetUserMemoryRegion(512, 0x50000000, 4 * M, Hva, MemslotFlags.None), Errno.EINVAL, "out of range"); // ids 0..511
        AssertRefused(vm.SetUserMemoryRegion(0, 0x40000000, 8 * M, Hva, MemslotFlags.None), Errno.EINVAL, "only its IPA or dirty-logging flag may change"); // resize
        AssertRefused(vm.SetUserMemoryRegion(0, 0x40000000, 4 * M, Hva + 4 * M, MemslotFlags.None), Errno.EINVAL, "slot 0 exists"); // new HVA
        AssertRefused(vm.SetUserMemoryRegion(0, 0x40000000, 4 * M, Hva, MemslotFlags.ReadOnly), Errno.EINVAL, "slot 0 exists"); // READONLY toggled
        AssertRefused(vm.DeleteSlot(7), Errno.EINVAL, "slot 7 does not exist"); // delete of an unknown slot
        AssertRefused(vm.SetUserMemoryRegion(7, 0, 0, 0, MemslotFlags.None), Errno.EINVAL, "slot 7 does not exist"); // size 0 = delete: same
        AssertRefused(vm.SetDirtyLogging(7, true), Errno.EINVAL, "slot 7 does not exist");
        AssertRefused(vm.GetDirtyLog(0, []), Errno.ENOENT, "no dirty bitmap"); // slot 0 does not log
        Assert.True(vm.SetUserMemoryRegion(0, 0x40000000, 4 * M, Hva, MemslotFlags.None).Succeeded); // the same region again: a no-op
        Assert.Equal(1, vm.Memslots.Count); // nothing refused was added
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void A_slot_ending_exactly_at_the_ipa_limit(string policy)
    {
        KvmVm vm = AnonVm(policy);
        KvmResult r = vm.SetUserMemoryRegion(0, (1UL << 40) - 4 * M, 4 * M, Hva, MemslotFlags.None);
        if (policy == "v5.9")
        {
            // 5.10-rc1: base_gfn + npages >= kvm_phys_size >> PAGE_SHIFT — off by one, the last slot is refused
            AssertRefused(r, Errno.EFAULT, "at or above the 40-bit IPA space");
        }
        else
        {
            Assert.True(r.Succeeded); // '>' since the fix: a slot may end exactly at 2^40
            Assert.Equal(FaultOutcome.Mapped, vm.Access((1UL << 40) - 0x1000, AccessKind.Read).Outcome); // its last page maps
        }
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Move_unmaps_the_old_range(string policy)
    {
        KvmVm vm = AnonVm(policy);
        Assert.True(vm.SetUserMemoryRegion(0, 0x40000000, 4 * M, Hva, MemslotFlags.None).Succeeded);
        FaultResult first = vm.Access(0x40000000, AccessKind.Write);
        Assert.Equal(0x200000UL, first.SizeBytes); // THP block at the old IPA

        Assert.True(vm.SetUserMemoryRegion(0, 0x50000000, 4 * M, Hva, MemslotFlags.None).Succeeded); // new IPA, same HVA/size: MOVE
        Assert.Empty(Leaves(vm)); // kvm_arch_flush_shadow_memslot unmapped the old range
        Assert.Equal(FaultOutcome.Mmio, vm.Access(0x40000000, AccessKind.Read).Outcome); // old IPA: no slot any more
        FaultResult moved = vm.Access(0x50000000, AccessKind.Read);
        Assert.Equal(FaultOutcome.Mapped, moved.Outcome);
        Assert.Equal(0x100000000UL, moved.Pa); // same host memory behind the new IPA
        Assert.True(vm.SetUserMemoryRegion(1, 0x40000000, 4 * M, Hva, MemslotFlags.None).Succeeded); // the old range is free for another slot
        AssertRefused(vm.SetUserMemoryRegion(0, 0x40200000, 4 * M, Hva, MemslotFlags.None), Errno.EEXIST, "overlaps slot 1"); // a MOVE onto another slot: EEXIST
        Assert.Equal(0x50000000UL, vm.Memslots.ById(0)!.Ipa); // and the refused MOVE left slot 0 where it was
    }

    [Theory]
    [InlineData("v5.13")]
    [InlineData("v5.9")]
    public void Pre_5_14_move_maps_the_bar_again_at_the_new_ipa(string policy)
    {
        var host = NewHost(Granule.Size4K);
        Assert.True(host.AddVma(PfnMap(Hva, M, 0x2000000)).Succeeded);
        var vm = NewVm(host, policy);
        Assert.True(vm.SetUserMemoryRegion(0, 0x8000000000, M, Hva, MemslotFlags.None).Succeeded);
        Assert.Equal(256, Leaves(vm).Count); // 1M of 4K pages mapped at creation
        Assert.True(vm.SetUserMemoryRegion(0, 0x8010000000, M, Hva, MemslotFlags.None).Succeeded);
        var leaves = Leaves(vm);
        Assert.Equal(256, leaves.Count); // old pages unmapped, the BAR mapped again page by page at prepare
        Assert.All(leaves, l => Assert.InRange(l.Ipa, 0x8010000000UL, 0x80100ff000UL)); // all at the new IPA
        Assert.Equal(FaultOutcome.Hit, vm.Access(0x80100ff000, AccessKind.Write).Outcome);
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Flags_only_change_write_protects_without_unmapping(string policy)
    {
        KvmVm vm = AnonVm(policy);
        Assert.True(vm.SetUserMemoryRegion(0, 0x40000000, 4 * M, Hva, MemslotFlags.None).Succeeded);
        vm.Access(0x40000000, AccessKind.Write); // 2M THP block, rw

        Assert.True(vm.SetUserMemoryRegion(0, 0x40000000, 4 * M, Hva, MemslotFlags.LogDirtyPages).Succeeded); // FLAGS_ONLY
        Assert.Equal(FaultOutcome.Hit, vm.Access(0x40001000, AccessKind.Read).Outcome); // the block is still there, readable
        FaultResult w = vm.Access(0x40001000, AccessKind.Write);
        Assert.Equal(FaultStatus.Permission, w.Status); // kvm_mmu_wp_memory_region made it read-only
        Assert.Equal(2, w.FaultLevel); // at the block's level
        Assert.Equal(FaultOutcome.Mapped, w.Outcome); // logging: force_pte, 4K != fault granule: map, not relax
        Assert.Equal(0x1000UL, w.SizeBytes); // one page (the block is broken into a table)
        var gfns = new List<ulong>();
        Assert.True(vm.GetDirtyLog(0, gfns).Succeeded);
        Assert.Equal([0x40001UL], gfns); // the written page

        Assert.True(vm.SetUserMemoryRegion(0, 0x40000000, 4 * M, Hva, MemslotFlags.None).Succeeded); // logging off again
        Assert.Equal(Errno.ENOENT, vm.GetDirtyLog(0, gfns).Errno); // the bitmap is gone
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Delete_unmaps_and_holes_fault_with_efault(string policy)
    {
        KvmVm vm = AnonVm(policy, thp: false);
        Assert.True(vm.SetUserMemoryRegion(0, 0x40000000, 16 * M, Hva, MemslotFlags.None).Succeeded); // VMA is 8M: the rest is a hole
        Assert.Equal(FaultOutcome.Mapped, vm.Access(0x40001000, AccessKind.Read).Outcome);
        FaultResult hole = vm.Access(0x40900000, AccessKind.Read);
        Assert.Equal(FaultOutcome.Error, hole.Outcome); // no VMA behind hva 0x7f0000900000
        Assert.Equal(Errno.EFAULT, hole.Errno);

        Assert.True(vm.SetUserMemoryRegion(0, 0x40000000, 0, Hva, MemslotFlags.None).Succeeded); // size 0 deletes
        Assert.Empty(Leaves(vm)); // and unmaps
        Assert.Equal(FaultOutcome.Mmio, vm.Access(0x40001000, AccessKind.Read).Outcome);
        Assert.Equal(0, vm.Memslots.Count);
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Dirty_logging_on_pfnmap_is_refused_with_a_sentence(string policy)
    {
        var host = NewHost(Granule.Size4K);
        Assert.True(host.AddVma(PfnMap(Hva, 4 * M, 0x2000000)).Succeeded);
        var vm = NewVm(host, policy);
        AssertRefused(vm.SetUserMemoryRegion(0, 0x8000000000, 4 * M, Hva, MemslotFlags.LogDirtyPages), Errno.EINVAL, "not allowed on a VM_PFNMAP region");
        Assert.True(vm.SetUserMemoryRegion(0, 0x8000000000, 4 * M, Hva, MemslotFlags.None).Succeeded);
        AssertRefused(vm.SetDirtyLogging(0, true), Errno.EINVAL, "not allowed on a VM_PFNMAP region");
        Assert.Null(vm.Memslots.ById(0)!.DirtyBitmap); // the refused change left the slot as it was
    }

    [Fact]
    public void Host_refusals_are_results_with_sentences()
    {
        var memory = new PhysicalMemory();
        Assert.True(memory.AddRam(0x80000000, 4UL << 30).Succeeded);
        HostResult r = memory.AddDevice("bar0", 0x100000000, 1UL << 30); // inside RAM [2G, 6G)
        Assert.Equal(Errno.EEXIST, r.Errno);
        Assert.Contains("device region 'bar0' [0x100000000, 0x140000000) overlaps RAM 'ram'", r.Message);
        Assert.True(memory.AddDevice("bar0", 0x2000000000, 1UL << 30).Succeeded);
        r = memory.AddRam(0x2000000000 + M, M);
        Assert.Equal(Errno.EEXIST, r.Errno); // RAM over a device region
        Assert.Contains("overlaps device region 'bar0'", r.Message);
        Assert.Equal(Errno.EEXIST, memory.AddDevice("bar1", 0x2020000000, 1UL << 30).Errno); // device over device
        Assert.Equal(Errno.EEXIST, memory.AddRam(0x80001000, 0x1000).Errno); // RAM over RAM
        Assert.Equal(Errno.EINVAL, memory.AddRam(0x200000000, 0).Errno); // empty
        Assert.False(memory.IsRam(0x2000000000)); // the BAR is device memory (kvm_is_device_pfn)

        var host = new HostAddressSpace(new HostPageTableConfig(Granule.Size64K), memory);
        Assert.True(host.AddVma(Anon(Hva, 4 * M, 0x80000000)).Succeeded);
        HostResult overlap = host.AddVma(Anon(Hva + 2 * M, 4 * M, 0x90000000));
        Assert.Equal(Errno.EEXIST, overlap.Errno);
        Assert.Contains("VMA [0x7f0000200000, 0x7f0000600000) overlaps VMA [0x7f0000000000, 0x7f0000400000)", overlap.Message);
        HostResult below = host.AddVma(Anon(Hva - M, 2 * M, 0x90000000));
        Assert.Equal(Errno.EEXIST, below.Errno); // overlapping from below
        Assert.Equal(Errno.EINVAL, host.AddVma(Anon(0x7f0100001000, 4 * M, 0x80000000)).Errno); // not 64K-aligned
        HostResult size = host.AddVma(Hugetlb(0x7f0200000000, 1UL << 30, 1UL << 30, 0x80000000));
        Assert.Equal(Errno.EINVAL, size.Errno); // no 1G hugetlb with 64K pages
        Assert.Contains("valid: 2M, 512M, 16G", size.Message); // CONT_PTE, PMD, CONT_PMD
        Assert.Equal(Errno.EINVAL, host.AddVma(Hugetlb(0x7f0220000000, 1UL << 30, 512 * M, 0x90000000)).Errno); // PA not 512M-aligned
        Assert.Equal(Errno.ENOMEM, host.AddVma(Anon(0xffffffff0000, 2 * M, 0x80000000)).Errno); // past the 48-bit user VA
        Assert.Equal(Errno.EINVAL, host.Remap(Hva, 0x10000, 0x2000000000).Errno); // remap only inside a pfnmap VMA
        Assert.Single(host.Vmas); // nothing refused was added
    }
    [Theory]
    [InlineData("v5.13", Errno.EAGAIN)]
    [InlineData("v5.9", 0)]
    [InlineData("v5.14", 0)]
    public void Pre_5_14_flags_only_change_remaps_pfnmap_pages(string policy, int errno)
    {
        // A logging slot registered over a hole; the VMM mmaps a BAR there afterwards and the guest faults a page
        // in (logging forces PAGE; a device page stays writable). Turning logging off is a FLAGS_ONLY change: 5.13's
        // kvm_arch_prepare_memory_region calls kvm_phys_addr_ioremap on the BAR again, whose map of the identical
        // page returns -EAGAIN in the 5.12-5.15 pgtable.c (stage2_map_walker_try_leaf) and the ioctl fails with
        // it. 5.10-rc1's kvm_set_valid_leaf_pte tolerates recreating the same mapping; 5.14+ maps nothing there.
        var host = NewHost(Granule.Size4K);
        var vm = NewVm(host, policy);
        Assert.True(vm.SetUserMemoryRegion(0, 0x8000000000, M, Hva, MemslotFlags.LogDirtyPages).Succeeded); // no VMA yet
        Assert.True(host.AddVma(PfnMap(Hva, M, 0x2000000)).Succeeded);
        FaultResult r = vm.Access(0x8000000000, AccessKind.Read);
        Assert.Equal("rwd", r.Prot.ToLetters()); // device: not downgraded to read-only by logging
        KvmResult off = vm.SetDirtyLogging(0, false);
        Assert.Equal(errno, off.Errno);
        Assert.Equal(errno == 0, vm.Memslots.ById(0)!.DirtyBitmap is null); // a failed change keeps the old slot (still logging)
    }
    [Theory]
    [InlineData("vma 0x7f0000200000 4M anon 0x110000000", 5, "VMA [0x7f0000200000, 0x7f0000600000) overlaps VMA [0x7f0000000000, 0x7f0000400000)")]
    [InlineData("ram 0x100000000 4K", 5, "RAM range 'ram' [0x100000000, 0x100001000) overlaps RAM 'ram' [0x80000000, 0x480000000)")]
    [InlineData("vma 0x7f0010000000 2M hugetlb 1M 0x110000000", 5, "hugetlb page size 1M does not exist with 4K pages")]
    public void A_refused_host_line_stops_the_script_with_file_line_and_sentence(string line, int lineNumber, string sentence)
    {
        string script = "granule 4K\npolicy v6.18\nram 0x80000000 16G\nvma 0x7f0000000000 4M anon 0x100000000\n" + line + "\n";
        var e = Assert.Throws<Stage2Lab.Simulation.Scripts.ScriptException>(() => Run(script));
        Assert.Equal(lineNumber, e.Line); // the offending line
        Assert.StartsWith($"t.s2faults:{lineNumber}: ", e.Message); // FILE:LINE: first
        Assert.Contains(sentence, e.Message, StringComparison.Ordinal); // then the host's sentence
    }
}
