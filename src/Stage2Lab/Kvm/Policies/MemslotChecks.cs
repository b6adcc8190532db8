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
    public static KvmResult IpaBound(in MemslotContext ctx, Memslot slot, bool ipaLimitInclusive)
    {
        bool outside = ipaLimitInclusive ? slot.IpaEnd >= ctx.Mmu.IpaLimit : slot.IpaEnd > ctx.Mmu.IpaLimit;
        return outside
            ? KvmResult.Fail(Errno.EFAULT, new SlotBeyondIpaSpace(slot.Id, slot.IpaEnd, ctx.Config.IpaBits, ipaLimitInclusive))
            : KvmResult.Ok;
    }

    /// <summary>
    /// kvm_arch_prepare_memory_region without creation-time mapping (the seed's patch 1/2, 5.14, 5.15): the IPA
    /// bound, then "IO region dirty page logging not allowed" for every VM_PFNMAP VMA in the slot.
    /// </summary>
    public static KvmResult Lazy(in MemslotContext ctx, Memslot slot, MemslotChange change, bool ipaLimitInclusive)
    {
        if (change is not (MemslotChange.Create or MemslotChange.Move or MemslotChange.FlagsOnly))
            return KvmResult.Ok;
        KvmResult bound = IpaBound(in ctx, slot, ipaLimitInclusive);
        if (!bound.Succeeded)
            return bound;
        if ((slot.Flags & MemslotFlags.LogDirtyPages) == 0)
            return KvmResult.Ok;
        foreach (Vma vma in ctx.Host.Intersecting(slot.UserspaceAddr, slot.HvaEnd))
        {
            if (vma.IsPfnMap)
                return KvmResult.Fail(Errno.EINVAL, new LoggingOnPfnMap(slot.Id, VmaInfo.Of(vma)));
        }
        return KvmResult.Ok;
    }

    /// <summary>
    /// kvm_arch_prepare_memory_region before the 2021 series (5.10-rc1 → 5.13): every VM_PFNMAP VMA in the
    /// slot is mapped at once, one page at a time (kvm_phys_addr_ioremap: device, R, W unless READONLY, PAs from
    /// vm_pgoff — remapped pieces are not looked at); on failure the slot is unmapped, on success it is flushed
    /// to PoC without FWB (stage2_flush_memslot). A flags-only change maps but neither unmaps nor flushes.
    /// </summary>
    public static KvmResult MapPfnMapAtCreation(in MemslotContext ctx, Memslot slot, MemslotChange change, bool ipaLimitInclusive)
    {
        if (change is not (MemslotChange.Create or MemslotChange.Move or MemslotChange.FlagsOnly))
            return KvmResult.Ok;
        KvmResult bound = IpaBound(in ctx, slot, ipaLimitInclusive);
        if (!bound.Succeeded)
            return bound;

        int ret = 0;
        ulong hva = slot.UserspaceAddr, regEnd = slot.HvaEnd;
        // Mapping at creation changes the stage 2 only, never the VMAs walked.
        foreach (Vma vma in ctx.Host.Intersecting(hva, regEnd))
        {
            ulong vmStart = Math.Max(hva, vma.Start);
            ulong vmEnd = Math.Min(regEnd, vma.End);
            if (vma.IsPfnMap)
            {
                if ((slot.Flags & MemslotFlags.LogDirtyPages) != 0)
                    return KvmResult.Fail(Errno.EINVAL, new LoggingOnPfnMap(slot.Id, VmaInfo.Of(vma)));
                ulong gpa = slot.Ipa + (vmStart - slot.UserspaceAddr);
                ulong pa = (vma.PgOff << ctx.PageShift) + (vmStart - vma.Start);
                ret = PhysAddrIoremap(in ctx, gpa, pa, vmEnd - vmStart, writable: !slot.IsReadOnly);
                ctx.Explain?.Add(new IoremapAtCreationStep(gpa, pa, vmEnd - vmStart, (vmEnd - vmStart) >> ctx.PageShift, -ret));
                if (ret != 0)
                    break;
            }
        }
        if (change == MemslotChange.FlagsOnly)
            return ret == 0 ? KvmResult.Ok : KvmResult.Fail(-ret, new IoremapFailed(slot.Id, -ret));
        if (ret != 0)
        {
            ctx.Mmu.UnmapRange(slot.Ipa, slot.SizeBytes);
            return KvmResult.Fail(-ret, new IoremapFailed(slot.Id, -ret));
        }
        if (!ctx.Config.Features.Fwb)
            ctx.Mmu.FlushRange(slot.Ipa, slot.IpaEnd);
        return KvmResult.Ok;
    }

    /// <summary>kvm_phys_addr_ioremap: one kvm_pgtable_stage2_map call per page (MapPageByPage does exactly
    /// those calls, in one walk).</summary>
    private static int PhysAddrIoremap(in MemslotContext ctx, ulong ipa, ulong pa, ulong sizeBytes, bool writable)
    {
        Prot prot = Prot.Device | Prot.R | (writable ? Prot.W : Prot.None);
        return ctx.Mmu.Pgt.MapPageByPage(ipa, sizeBytes, pa, prot, ctx.Mmu.FaultCache);
    }

    /// <summary>
    /// kvm_arch_prepare_memory_region (v6.19, unchanged in 7.x for non-protected VMs): the slot must end within the
    /// IPA space (-EFAULT); a VM_PFNMAP VMA in it refuses dirty logging and, when cacheable, needs FWB and DIC
    /// (-EINVAL).
    /// </summary>
    public static KvmResult Current(in MemslotContext ctx, Memslot slot, MemslotChange change)
    {
        if (change is not (MemslotChange.Create or MemslotChange.Move or MemslotChange.FlagsOnly))
            return KvmResult.Ok;
        if (slot.IpaEnd > ctx.Mmu.IpaLimit)
            return KvmResult.Fail(Errno.EFAULT, new SlotBeyondIpaSpace(slot.Id, slot.IpaEnd, ctx.Config.IpaBits, LimitInclusive: false));
        foreach (Vma vma in ctx.Host.Intersecting(slot.UserspaceAddr, slot.HvaEnd))
        {
            if (!vma.IsPfnMap)
                continue;
            if ((slot.Flags & MemslotFlags.LogDirtyPages) != 0)
                return KvmResult.Fail(Errno.EINVAL, new LoggingOnPfnMap(slot.Id, VmaInfo.Of(vma)));
            if (vma.Cacheable && !(ctx.Config.Features.Fwb && ctx.Config.Features.Dic))
                return KvmResult.Fail(Errno.EINVAL, new CacheablePfnMapUnsupported(slot.Id, VmaInfo.Of(vma)));
        }
        return KvmResult.Ok;
    }

    /// <summary>
    /// kvm_arch_commit_memory_region (6.5+): enabling logging write-protects the slot and splits its blocks
    /// eagerly (when a chunk size is set) — unless manual protect with initially-all-set defers that to
    /// KVM_CLEAR_DIRTY_LOG.
    /// </summary>
    public static void WriteProtectAndSplitOnLogging(in MemslotContext ctx, Memslot? slot, MemslotChange change)
    {
        if (slot is null || change == MemslotChange.Delete || (slot.Flags & MemslotFlags.LogDirtyPages) == 0)
            return;
        if (ctx.Config.ManualDirtyLogProtect)
            return;
        ctx.Mmu.WriteProtectMemslot(slot);
        ctx.Mmu.SplitHugePages(slot.Ipa, slot.IpaEnd);
    }

    /// <summary>kvm_arch_commit_memory_region (5.x): enabling logging write-protects the whole slot.</summary>
    public static void WriteProtectOnLogging(in MemslotContext ctx, Memslot? slot, MemslotChange change)
    {
        if (slot is null || change == MemslotChange.Delete || (slot.Flags & MemslotFlags.LogDirtyPages) == 0)
            return;
        if (!ctx.Config.ManualDirtyLogProtect)
            ctx.Mmu.WriteProtectMemslot(slot);
    }
}
