using Stage2Lab.Arch;
using Stage2Lab.Host;

namespace Stage2Lab.Kvm.Policies;

/// <summary>The kvm_arch_prepare/commit_memory_region bodies the 5.x versions share.</summary>
internal static class MemslotChecks
{
    /// <summary>
    /// The IPA-space bound of kvm_arch_prepare_memory_region: 5.10-rc1 refused a slot ending exactly at the
    /// limit (<c>base_gfn + npages &gt;= kvm_phys_size &gt;&gt; PAGE_SHIFT</c>); later kernels use <c>&gt;</c>.
    /// </summary>
    public static KvmResult IpaBound(KvmVm vm, Memslot slot, bool ipaLimitInclusive)
    {
        bool outside = ipaLimitInclusive ? slot.IpaEnd >= vm.IpaLimit : slot.IpaEnd > vm.IpaLimit;
        return outside
            ? KvmResult.Fail(Errno.EFAULT, $"slot {slot.Id} ends at IPA 0x{slot.IpaEnd:x}, {(ipaLimitInclusive ? "at or " : "")}above the {vm.Config.IpaBits}-bit IPA space")
            : KvmResult.Ok;
    }

    /// <summary>
    /// kvm_arch_prepare_memory_region without creation-time mapping (the seed's patch 1/2, 5.14, 5.15): the IPA
    /// bound, then "IO region dirty page logging not allowed" for every VM_PFNMAP VMA in the slot.
    /// </summary>
    public static KvmResult Lazy(KvmVm vm, Memslot slot, MemslotChange change, bool ipaLimitInclusive)
    {
        if (change is not (MemslotChange.Create or MemslotChange.Move or MemslotChange.FlagsOnly))
            return KvmResult.Ok;
        KvmResult bound = IpaBound(vm, slot, ipaLimitInclusive);
        if (!bound.Succeeded)
            return bound;
        if ((slot.Flags & MemslotFlags.LogDirtyPages) == 0)
            return KvmResult.Ok;
        foreach (Vma vma in vm.Host.Intersecting(slot.UserspaceAddr, slot.HvaEnd))
        {
            if (vma.IsPfnMap)
                return KvmResult.Fail(Errno.EINVAL, $"slot {slot.Id}: dirty logging is not allowed on a VM_PFNMAP region ({vma})");
        }
        return KvmResult.Ok;
    }

    /// <summary>
    /// kvm_arch_prepare_memory_region before the 2021 series (5.10-rc1 → 5.13): every VM_PFNMAP VMA in the
    /// slot is mapped at once, one page at a time (kvm_phys_addr_ioremap: device, R, W unless READONLY, PAs from
    /// vm_pgoff — remapped pieces are not looked at); on failure the slot is unmapped, on success it is flushed
    /// to PoC without FWB (stage2_flush_memslot). A flags-only change maps but neither unmaps nor flushes.
    /// </summary>
    public static KvmResult MapPfnMapAtCreation(KvmVm vm, Memslot slot, MemslotChange change, bool ipaLimitInclusive)
    {
        if (change is not (MemslotChange.Create or MemslotChange.Move or MemslotChange.FlagsOnly))
            return KvmResult.Ok;
        KvmResult bound = IpaBound(vm, slot, ipaLimitInclusive);
        if (!bound.Succeeded)
            return bound;

        int ret = 0;
        ulong hva = slot.UserspaceAddr, regEnd = slot.HvaEnd;
        foreach (Vma vma in vm.Host.Intersecting(hva, regEnd).ToList())
        {
            ulong vmStart = Math.Max(hva, vma.Start);
            ulong vmEnd = Math.Min(regEnd, vma.End);
            if (vma.IsPfnMap)
            {
                if ((slot.Flags & MemslotFlags.LogDirtyPages) != 0)
                    return KvmResult.Fail(Errno.EINVAL, $"slot {slot.Id}: dirty logging is not allowed on a VM_PFNMAP region ({vma})");
                ulong gpa = slot.Ipa + (vmStart - slot.UserspaceAddr);
                ulong pa = (vma.PgOff << vm.PageShift) + (vmStart - vma.Start);
                ret = PhysAddrIoremap(vm, gpa, pa, vmEnd - vmStart, writable: !slot.IsReadOnly);
                if (ret != 0)
                    break;
            }
        }
        if (change == MemslotChange.FlagsOnly)
            return ret == 0 ? KvmResult.Ok : KvmResult.Fail(-ret, $"slot {slot.Id}: kvm_phys_addr_ioremap failed with {Errno.Name(ret)}");
        if (ret != 0)
        {
            vm.UnmapStage2Range(slot.Ipa, slot.SizeBytes);
            return KvmResult.Fail(-ret, $"slot {slot.Id}: kvm_phys_addr_ioremap failed with {Errno.Name(ret)}");
        }
        if (!vm.Features.Fwb)
            vm.Stage2.Flush(slot.Ipa, slot.SizeBytes);
        return KvmResult.Ok;
    }

    /// <summary>kvm_phys_addr_ioremap: one kvm_pgtable_stage2_map call per page (MapPageByPage does exactly
    /// those calls, in one walk).</summary>
    private static int PhysAddrIoremap(KvmVm vm, ulong ipa, ulong pa, ulong sizeBytes, bool writable)
    {
        Prot prot = Prot.Device | Prot.R | (writable ? Prot.W : Prot.None);
        return vm.Stage2.MapPageByPage(ipa, sizeBytes, pa, prot, vm.FaultCache);
    }

    /// <summary>kvm_arch_commit_memory_region (5.x): enabling logging write-protects the whole slot.</summary>
    public static void WriteProtectOnLogging(KvmVm vm, Memslot? slot, MemslotChange change)
    {
        if (slot is null || change == MemslotChange.Delete || (slot.Flags & MemslotFlags.LogDirtyPages) == 0)
            return;
        if (!vm.Config.ManualDirtyLogProtect)
            vm.WriteProtectMemslot(slot);
    }
}
