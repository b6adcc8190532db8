using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.PageTables;
using S2FaultDesc = Stage2Lab.Kvm.FaultContext;

namespace Stage2Lab.Kvm.Policies;

/// <summary>The v7.4 handlers other than user_mem_abort: gmem_abort, protected_pkvm_mem_abort, and the memslot hooks.</summary>
public sealed partial class V7_4Policy
{
    /// <summary>
    /// gmem_abort (7.x): guest_memfd has no huge pages yet, so PAGE_SIZE at the gfn aligned down to it; the pfn
    /// from kvm_gmem_get_pfn (no VMA is involved); R, W unless the slot is READONLY, X for a fetch or on a DIC
    /// CPU, no right the L1 hypervisor withholds; a permission fault relaxes, anything else maps. The memcache is
    /// topped up unless the fault is a permission fault.
    /// </summary>
    /// <remarks>
    /// The kvmarm/next snapshot falls through after a failed kvm_gmem_get_pfn (no return, the mapping object freed
    /// twice); the model returns the error, as 6.18's gmem_abort does.
    /// </remarks>
    private static FaultResult GmemAbort(in S2FaultDesc s2fd)
    {
        bool permFault = s2fd.IsPermissionFault;
        ulong page = s2fd.PageSize;
        if (!permFault)
            KernelRules.TopUpMemcache(in s2fd, KernelFunctions.TopupMmuMemcache, MemcacheTopupReason.NotPermissionFault);

        var s2vi = new S2FaultVmaInfo { VmaPageSizeBytes = page, MaxMapSizeBytes = page };
        s2vi.GfnIpa = s2fd.FaultIpa & ~(page - 1);
        s2fd.Explain?.Add(new GmemPageSizeStep(page));
        ulong canonical = GetCanonicalGfn(in s2fd, in s2vi, record: true);

        if (!KernelRules.GmemGetPfn(in s2fd, canonical, out ulong pa))
            return FaultResult.Fail(Errno.EFAULT);

        Prot prot = Prot.R;
        if (!s2fd.Slot.IsReadOnly)
            prot |= Prot.W;
        if (s2fd.Nested is { } nested)
            prot = AdjustNestedFaultPerms(in s2fd, nested, prot);
        bool dic = s2fd.Features.Dic;
        if (s2fd.ExecFault || dic)
            prot |= Prot.X;
        if (s2fd.Nested is { } nestedExec)
            prot = AdjustNestedExecPerms(in s2fd, nestedExec, prot);
        s2fd.Explain?.Add(new ProtStep(KernelFunctions.GmemAbort, prot, dic ? ProtReason.NormalDic : ProtReason.Normal));

        FaultResult r = KernelRules.Install(in s2fd, permFault, s2vi.GfnIpa, page, pa, prot, WalkFlags.None);
        if (!permFault && (r.PgtableErrno == 0 || r.PgtableErrno == Errno.EAGAIN) && s2fd.Mmu.IsNested)
            s2fd.Mmu.RecordGuestS2Mapping(canonical, s2vi.GfnIpa, page);
        return KernelRules.MarkDirtyIfWritten(in s2fd, in r, (prot & Prot.W) != 0, canonical);
    }

    /// <summary>
    /// protected_pkvm_mem_abort (7.x, protected guests): top the hyp memcache up, get the VMA info (every block
    /// size is refused for a protected guest, so the gfn is the page's), pin the page at the faulting HVA for the
    /// long term (FOLL_LONGTERM | FOLL_WRITE: no VM_PFNMAP/VM_IO, no read-only VMA, -EFAULT; a page that is not
    /// swap-backed — page cache, hugetlbfs — -EIO), then donate it: PAGE_SIZE, RWX.
    /// </summary>
    private static FaultResult ProtectedPkvmMemAbort(in S2FaultDesc s2fd)
    {
        KernelRules.TopUpMemcache(in s2fd, KernelFunctions.TopupMmuMemcache, MemcacheTopupReason.ProtectedKvm);

        var s2vi = new S2FaultVmaInfo();
        int ret = KvmS2FaultGetVmaInfo(in s2fd, ref s2vi);
        if (ret != 0)
            return FaultResult.Fail(-ret);

        ulong page = s2fd.PageSize;
        PinResult pin = PinUserPage(in s2fd, out ulong pa);
        s2fd.Explain?.Add(new ProtectedPinStep(s2fd.Hva, pa, pin));
        if (pin == PinResult.NoPage)
            return FaultResult.Fail(Errno.EFAULT);
        if (pin == PinResult.NotSwapBacked)
            return FaultResult.Fail(Errno.EIO);

        s2fd.Explain?.Add(new ProtectedPageStep(page));
        return KernelRules.Install(in s2fd, relax: false, s2vi.GfnIpa, page, pa, Prot.RWX, WalkFlags.None);
    }

    /// <summary>pin_user_pages(hva, 1, FOLL_HWPOISON | FOLL_LONGTERM | FOLL_WRITE) and the swap-backed check after it.</summary>
    private static PinResult PinUserPage(in S2FaultDesc s2fd, out ulong pa)
    {
        pa = 0;
        Vma? vma = s2fd.Host.FindVma(s2fd.Hva);
        // check_vma_flags: GUP refuses VM_IO | VM_PFNMAP, and a write pin of a VMA without VM_WRITE.
        if (vma is null || vma.Kind == VmaKind.PfnMap || (vma.Flags & (VmFlags.PfnMap | VmFlags.Write)) != VmFlags.Write)
            return PinResult.NoPage;
        if (!s2fd.Host.TryTranslate(s2fd.Hva, out HostMapping mapping))
            return PinResult.NoPage;
        pa = mapping.Pa & s2fd.Granule.PageMask;
        // folio_test_swapbacked: anonymous memory and shmem are; hugetlbfs folios are not.
        return vma.Kind == VmaKind.Hugetlb ? PinResult.NotSwapBacked : PinResult.Pinned;
    }

    /// <summary>
    /// kvm_arch_prepare_memory_region (7.x): a protected VM refuses dirty logging and READONLY slots, and, once its
    /// hypervisor VM exists (it first ran), deleting or moving a slot (-EPERM); then as 6.x: the slot must end
    /// within the IPA space (-EFAULT); a VM_PFNMAP VMA refuses dirty logging and, when cacheable, needs FWB and
    /// DIC (-EINVAL). guest_memfd slots are always gmem-only (mappable) in the model, so that check never fails.
    /// </summary>
    public override KvmResult PrepareMemoryRegion(in MemslotContext ctx, Memslot? old, Memslot slot, MemslotChange change)
    {
        if (ctx.Config.Flavor == VmFlavor.ProtectedPkvm)
        {
            if (ctx.HypVmCreated && change is MemslotChange.Delete or MemslotChange.Move)
                return KvmResult.Fail(Errno.EPERM, new ProtectedVmSlotsLocked(slot.Id, change));
            if (change != MemslotChange.Delete && (slot.Flags & (MemslotFlags.LogDirtyPages | MemslotFlags.ReadOnly)) != 0)
                return KvmResult.Fail(Errno.EPERM, new ProtectedVmSlotFlags(slot.Id, slot.Flags));
        }
        return MemslotChecks.Current(in ctx, slot, change);
    }

    /// <summary>kvm_arch_commit_memory_region (7.x, unchanged from 6.19): write-protect and eagerly split when logging starts.</summary>
    public override void CommitMemoryRegion(in MemslotContext ctx, Memslot? old, Memslot? slot, MemslotChange change) =>
        MemslotChecks.WriteProtectAndSplitOnLogging(in ctx, slot, change);
}
