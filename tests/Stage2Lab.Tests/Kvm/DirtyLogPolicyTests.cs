using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using static Stage2Lab.Tests.Kvm.FaultScripts;

namespace Stage2Lab.Tests.Kvm;

/// <summary>
/// Dirty logging (§4.3) under every policy: pages only, read-only until written, the bitmap as GET_DIRTY_LOG
/// returns it (absolute gfns), re-protection of the reported pages, blocks again once logging is off, and the
/// refusal of logging on a VM_PFNMAP slot.
/// </summary>
public class DirtyLogPolicyTests
{
    public static TheoryData<string> Policies() => new(AllPolicies);

    [Theory]
    [MemberData(nameof(Policies))]
    public void Logging_maps_pages_read_only_until_written_and_reports_them(string policy)
    {
        const string script = """
            granule 4K
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 4M anon 0x100000000 thp
            slot 0 0x40000000 4M 0x7f0000000000 log
            access 0x40001000 r
            access 0x40001000 w
            access 0x40205000 w
            access 0x40205000 w
            dirty 0
            access 0x40001000 r
            access 0x40001000 w
            dirty 0
            dirty 0
            log 0 off
            access 0x40345000 w
            dirty 0
            """;
        // 5.10-rc1 relaxes only when !(logging_active && writable): a write under logging calls map, which
        // replaces the read-only page (kvm_set_valid_leaf_pte). Every later kernel relaxes the 4K leaf.
        string writeOnReadOnlyPage = policy == "v5.9"
            ? "pfL3 -> map 0x40001000 0x1000 0x100001000 rwx"
            : "pfL3 -> relax 0x40001000 rwx";
        string[] expected =
        [
            "slot 5 ok",
            "access 6 tfL1 -> map 0x40001000 0x1000 0x100001000 rx", // logging: force_pte despite the THP; read: not writable; DIC: +X
            "access 7 " + writeOnReadOnlyPage, // write permission fault on the read-only page: now writable, gfn 0x40001 dirty
            "access 8 tfL2 -> map 0x40205000 0x1000 0x100205000 rwx", // write fault maps writable at once (page, not the 2M THP), gfn 0x40205 dirty
            "access 9 hit",
            "dirty 10 0 2 0x40001 0x40205", // bitmap as absolute gfns, ascending; taken and cleared, pages write-protected again
            "access 11 hit", // reads still allowed after re-protection
            "access 12 " + writeOnReadOnlyPage, // write-protected again by GET_DIRTY_LOG: permission fault, same handling as line 7
            "dirty 13 0 1 0x40001", // only the page written since the last GET_DIRTY_LOG
            "dirty 14 0 0", // nothing written since
            "access 16 tfL3 -> map 0x40200000 0x200000 0x100200000 rwx", // logging off: THP block replaces the L3 table holding 0x40205000
            "dirty 17 error ENOENT", // the slot has no dirty bitmap any more
        ];
        AssertLines(expected, Run(script, policy));
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Logging_is_refused_on_a_pfnmap_slot(string policy)
    {
        const string script = """
            granule 4K
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 4M pfnmap 0x2000000
            vma 0x7f0000400000 4M anon 0x100000000
            slot 0 0x8000000000 4M 0x7f0000000000 log
            slot 1 0x8010000000 4M 0x7f0000000000
            log 1 on
            dirty 1
            slot 2 0x8020000000 8M 0x7f0000000000 log
            slot 3 0x8030000000 4M 0x7f0000400000 log
            log 9 on
            slot-delete 9
            dirty 3
            """;
        string[] expected =
        [
            "slot 6 error EINVAL", // "IO region dirty page logging not allowed" (kvm_arch_prepare_memory_region)
            "slot 7 ok",
            "log 8 error EINVAL", // a flags-only change to KVM_MEM_LOG_DIRTY_PAGES is refused the same way
            "dirty 9 error ENOENT", // slot 1 kept its flags: no dirty bitmap
            "slot 10 error EINVAL", // a slot that merely touches the pfnmap VMA (and an anon one) is refused too
            "slot 11 ok", // anon only: fine
            "log 12 error EINVAL", // unknown slot
            "slot-delete 13 error EINVAL", // unknown slot
            "dirty 14 3 0", // logging slot, nothing written yet
        ];
        AssertLines(expected, Run(script, policy));
    }

    [Fact]
    public void Manual_protect_reports_everything_dirty_then_clear_write_protects()
    {
        // KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | INITIALLY_SET (v6.18): enabling logging write-protects nothing and
        // every bit starts set; GET_DIRTY_LOG only copies, CLEAR_DIRTY_LOG clears and write-protects.
        var host = NewHost(Granule.Size4K);
        Assert.True(host.AddVma(Anon(0x7f0000000000, 0x100000, 0x100000000)).Succeeded);
        var vm = new KvmVm(new VmConfig { IpaBits = 40, MaxSlots = 512, ManualDirtyLogProtect = true }, host, Stage2Lab.Kvm.Policies.PolicyRegistry.Create("v6.18"));
        Assert.True(vm.SetUserMemoryRegion(0, 0x40000000, 0x100000, 0x7f0000000000, MemslotFlags.None).Succeeded);
        Assert.Equal(FaultOutcome.Mapped, vm.Access(0x40000000, AccessKind.Write).Outcome); // rw page before logging
        Assert.True(vm.SetDirtyLogging(0, true).Succeeded);
        Assert.Equal(FaultOutcome.Hit, vm.Access(0x40000000, AccessKind.Write).Outcome); // initially-all-set: no write-protect yet
        var gfns = new List<ulong>();
        Assert.True(vm.GetDirtyLog(0, gfns).Succeeded);
        Assert.Equal(256, gfns.Count); // 1M / 4K pages, all set initially
        Assert.Equal(0x40000UL, gfns[0]); // absolute gfn of the first page
        Assert.True(vm.ClearDirtyLog(0, 0, 64).Succeeded); // clear the first 64 pages: they get write-protected
        FaultResult w = vm.Access(0x40000000, AccessKind.Write);
        Assert.Equal(FaultStatus.Permission, w.Status); // the written page is read-only again
        Assert.Equal(FaultOutcome.Relaxed, w.Outcome); // a 4K leaf: relax
        Assert.Equal(Errno.EINVAL, vm.ClearDirtyLog(0, 1, 64).Errno); // first page must be a multiple of 64
        Assert.Equal(Errno.ENOENT, vm.ClearDirtyLog(7, 0, 64).Errno); // no such slot
    }
}
