using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.PageTables;
using S2FaultDesc = Stage2Lab.Kvm.FaultContext;

namespace Stage2Lab.Kvm.Policies;

/// <summary>
/// The newest fault path: arch/arm64/kvm/mmu.c of kvmarm/next as of October 2026 (the v7.4 cycle). The same
/// decisions as v6.18, but user_mem_abort is a driver over kvm_s2_fault_pin_pfn (kvm_s2_fault_get_vma_info,
/// kvm_s2_resolve_vma_size), kvm_s2_fault_compute_prot and kvm_s2_fault_map, its state in kvm_s2_fault_desc
/// (<see cref="FaultContext"/>), kvm_s2_fault_vma_info (<see cref="S2FaultVmaInfo"/>) and kvm_s2_fault_result
/// (<see cref="S2FaultResult"/>), with max_map_size where 6.x had force_pte. The page's IPA is
/// gfn_to_gpa(gfn) with the gfn aligned down to the mapping size, so pages are granule-aligned on 16K/64K (6.x
/// passed the HPFAR's 4K-aligned IPA). The VM's flavor picks the abort handler (kvm_vm_s2_ops): protected guests
/// go to protected_pkvm_mem_abort, guest_memfd slots to gmem_abort (V7_4Policy.OtherAborts.cs).
/// </summary>
public sealed partial class V7_4Policy : FaultPolicy
{
    public override string Name => "v7.4";

    public override Stage2ApiRevision PageTableApi => Stage2ApiRevision.Current;

    public override bool RangeFlushOfMemslots => true;

    public override bool InjectsAbortBeyondIpaSize => true;

    /// <summary>kvm_vm_s2_ops for every flavor: kvm_default_vm_s2_ops, pkvm_vm_s2_ops, protected_pkvm_vm_s2_ops.</summary>
    public override bool Supports(VmFlavor flavor) => true;

    /// <summary>Faults taken for an L2 guest map through a shadow stage 2 (kvm_is_nested_s2_mmu).</summary>
    public override bool SupportsNested => true;

    public override bool SupportsGuestMemfd => true;

    /// <summary>pkvm_flush_remote_tlbs_range flushes the whole VMID: only kvm_default_vm_s2_ops flush a range.</summary>
    public override bool RangeFlushFor(VmFlavor flavor) => flavor == VmFlavor.Kvm;

    /// <summary>struct kvm_s2_fault_vma_info: what the VMA and the host said about the faulting page.</summary>
    private struct S2FaultVmaInfo
    {
        /// <summary>vma_pagesize: the mapping size before a THP upgrade.</summary>
        public ulong VmaPageSizeBytes;
        /// <summary>vm_flags, read under mmap_read_lock before the pfn is faulted in.</summary>
        public VmFlags VmFlags;
        /// <summary>max_map_size: PAGE_SIZE where 6.x set force_pte (no block, no THP upgrade), else PUD_SIZE or the nested clamp.</summary>
        public ulong MaxMapSizeBytes;
        /// <summary>__pfn_to_phys(pfn).</summary>
        public ulong Pa;
        /// <summary>gfn_to_gpa(gfn): the fault IPA aligned down to vma_pagesize (an L2 IPA for a nested fault).</summary>
        public ulong GfnIpa;
        public bool Device;
        public bool IsVmaCacheable;
        public bool MapWritable;
        public bool MapNonCacheable;
    }

    /// <summary>struct kvm_s2_fault_result: the size kvm_s2_fault_map installed (read by the pre-fault ioctl).</summary>
    private struct S2FaultResult
    {
        public ulong MappingSizeBytes;
    }

    /// <summary>kvm->arch.vm_s2_ops->vm_mem_abort: protected_pkvm_mem_abort, or kvm_vm_mem_abort.</summary>
    public override FaultResult UserMemAbort(in S2FaultDesc s2fd)
    {
        if (s2fd.Config.Flavor == VmFlavor.ProtectedPkvm)
            return ProtectedPkvmMemAbort(in s2fd);
        // kvm_vm_mem_abort: guest_memfd slots have their own handler.
        if (s2fd.Slot.IsGuestMemfd)
            return GmemAbort(in s2fd);
        return UserMemAbortDriver(in s2fd);
    }

    /// <summary>
    /// user_mem_abort (7.x): top the memcache up, pin the pfn, compute prot, map. Permission faults normally need
    /// no memcache; logging (a block may be split) and pKVM (EL2 wants the min-pages memcache anyway, and may
    /// collapse pages into a block) top it up too.
    /// </summary>
    private static FaultResult UserMemAbortDriver(in S2FaultDesc s2fd)
    {
        bool permFault = s2fd.IsPermissionFault;
        bool logging = s2fd.Slot.IsLogging;
        if (!permFault || logging || s2fd.Config.ProtectedKvmEnabled)
        {
            MemcacheTopupReason reason = !permFault ? MemcacheTopupReason.NotPermissionFault
                : logging ? MemcacheTopupReason.Logging : MemcacheTopupReason.ProtectedKvm;
            KernelRules.TopUpMemcache(in s2fd, KernelFunctions.TopupMmuMemcache, reason);
        }

        var s2vi = new S2FaultVmaInfo();
        int ret = KvmS2FaultPinPfn(in s2fd, ref s2vi);
        if (ret != 1)
            return FaultResult.Fail(-ret);

        ret = KvmS2FaultComputeProt(in s2fd, in s2vi, out Prot prot);
        if (ret != 0)
            return FaultResult.Fail(-ret);

        var result = new S2FaultResult();
        return KvmS2FaultMap(in s2fd, in s2vi, prot, ref result);
    }

    /// <summary>
    /// kvm_s2_fault_get_vma_info: under mmap_read_lock, the VMA (none: -EFAULT), the mapping size it allows
    /// (kvm_s2_resolve_vma_size), the gfn aligned down to it, and the VMA's flags and cacheability.
    /// </summary>
    private static int KvmS2FaultGetVmaInfo(in S2FaultDesc s2fd, ref S2FaultVmaInfo s2vi)
    {
        if (KernelRules.LookupVma(in s2fd, KernelFunctions.VmaLookup) is not { } vma)
            return -Errno.EFAULT;
        s2vi.VmaPageSizeBytes = 1UL << KvmS2ResolveVmaSize(in s2fd, ref s2vi, vma);
        // Both the canonical IPA and the fault IPA are aligned to the mapping size, so the right pfn is found and
        // the mapping lands in the right place — for pages too (granule-aligned, unlike 6.x's HPFAR IPA).
        s2vi.GfnIpa = s2fd.FaultIpa & ~(s2vi.VmaPageSizeBytes - 1);
        s2vi.VmFlags = vma.Flags;
        s2vi.IsVmaCacheable = vma.Cacheable;
        return 0;
    }

    /// <summary>
    /// kvm_s2_resolve_vma_size: logging caps max_map_size at PAGE_SIZE; otherwise get_vma_page_shift, then the
    /// switch of 6.x (PUD if the slot allows it, CONT_PMD becomes PMD, PMD if allowed, else PAGE with
    /// max_map_size = PAGE_SIZE, CONT_PTE too). A shadow stage 2 is further clamped to the L1 leaf size.
    /// </summary>
    private static int KvmS2ResolveVmaSize(in S2FaultDesc s2fd, ref S2FaultVmaInfo s2vi, Vma vma)
    {
        HostPageTableConfig host = s2fd.HostConfig;
        int shift;
        if (s2fd.Slot.IsLogging)
        {
            s2vi.MaxMapSizeBytes = host.PageSize;
            shift = host.PageShift;
            s2fd.Explain?.Add(new MaxMapSizeStep(MaxMapSizeReason.DirtyLogging, host.PageSize, host.PageSize));
        }
        else
        {
            s2vi.MaxMapSizeBytes = host.PudSize;
            shift = KernelRules.GetVmaPageShift(in s2fd, vma);
        }

        bool tryPmd = false, toPage = false;
        if (shift == host.PudShift && !host.PmdFolded)
        {
            if (!KernelRules.FaultSupportsStage2HugeMapping(in s2fd, host.PudSize))
                tryPmd = true;
        }
        else if (shift == host.ContPmdShift)
        {
            s2fd.Explain?.Add(new ContPmdStep(host.ContPmdSize, host.PmdSize, KernelFunctions.KvmS2ResolveVmaSize));
            tryPmd = true;
        }
        else if (shift == host.PmdShift)
        {
            tryPmd = true;
        }
        if (tryPmd)
        {
            shift = host.PmdShift;
            toPage = !KernelRules.FaultSupportsStage2HugeMapping(in s2fd, host.PmdSize);
        }
        if (toPage || shift == host.ContPteShift)
        {
            ulong from = 1UL << shift;
            shift = host.PageShift;
            s2vi.MaxMapSizeBytes = host.PageSize;
            s2fd.Explain?.Add(new MaxMapSizeStep(toPage ? MaxMapSizeReason.NoBlockFitsSlot : MaxMapSizeReason.ContPteHugetlb, host.PageSize, from));
        }

        if (s2fd.Nested is { } nested)
        {
            // A shadow stage-2 block is only possible where the L1 hypervisor's own stage 2 maps at least as big
            // a block; a size between two host sizes takes the smaller.
            ulong fromMax = s2vi.MaxMapSizeBytes, fromSize = 1UL << shift;
            ulong maxMapSize = Math.Min(s2vi.MaxMapSizeBytes, host.PudSize);
            maxMapSize = Math.Min(nested.BlockSizeBytes, maxMapSize);
            if (maxMapSize >= host.PmdSize && maxMapSize < host.PudSize)
                maxMapSize = host.PmdSize;
            else if (maxMapSize >= host.PageSize && maxMapSize < host.PmdSize)
                maxMapSize = host.PageSize;
            s2vi.MaxMapSizeBytes = maxMapSize;
            shift = Math.Min(shift, System.Numerics.BitOperations.TrailingZeroCount(maxMapSize));
            s2fd.Explain?.Add(new NestedClampStep(nested.BlockSizeBytes, fromMax, maxMapSize, fromSize, 1UL << shift));
        }
        return shift;
    }

    /// <summary>
    /// get_canonical_gfn: the gfn whose pfn backs the mapping — for an L2 fault the L1 IPA the L1 hypervisor's
    /// stage 2 gave (kvm_s2_trans_output), aligned down to the mapping size.
    /// </summary>
    private static ulong GetCanonicalGfn(in S2FaultDesc s2fd, in S2FaultVmaInfo s2vi, bool record)
    {
        if (s2fd.Nested is not { } nested)
            return s2vi.GfnIpa;
        ulong canonical = nested.OutputIpa & ~(s2vi.VmaPageSizeBytes - 1);
        if (record)
            s2fd.Explain?.Add(new CanonicalGfnStep(nested.OutputIpa, s2vi.VmaPageSizeBytes, canonical));
        return canonical;
    }

    /// <summary>
    /// kvm_s2_fault_pin_pfn: the VMA info, then __kvm_faultin_pfn at the canonical gfn (no page: -EFAULT); a
    /// VM_PFNMAP/VM_MIXEDMAP pfn that is not RAM is device memory — cacheable only with FWB and DIC (-EFAULT
    /// otherwise), else mapped non-cacheable with no THP upgrade. Returns 1 to go on.
    /// </summary>
    private static int KvmS2FaultPinPfn(in S2FaultDesc s2fd, ref S2FaultVmaInfo s2vi)
    {
        int ret = KvmS2FaultGetVmaInfo(in s2fd, ref s2vi);
        if (ret != 0)
            return ret;

        ulong canonical = GetCanonicalGfn(in s2fd, in s2vi, record: true);
        if (!KernelRules.FaultInPfn(in s2fd, canonical, KernelFunctions.KvmFaultinPfn, out s2vi.Pa, out s2vi.MapWritable))
            return -Errno.EFAULT;

        if ((s2vi.VmFlags & (VmFlags.PfnMap | VmFlags.MixedMap)) != 0 && s2fd.IsDevicePa(s2vi.Pa))
        {
            if (s2vi.IsVmaCacheable)
            {
                // kvm_supports_cacheable_pfnmap: no CMOs are possible on such a pfn, so FWB and DIC are needed.
                s2fd.Explain?.Add(new CacheablePfnMapCheckStep(s2fd.Features.Fwb, s2fd.Features.Dic));
                if (!(s2fd.Features.Fwb && s2fd.Features.Dic))
                    return -Errno.EFAULT;
            }
            else
            {
                s2vi.MapNonCacheable = true;
                s2fd.Explain?.Add(new DeviceDetectedStep(KernelFunctions.KvmS2FaultPinPfn, s2vi.Pa, s2vi.VmFlags, DeviceEffect.ForceNonCacheable,
                    s2vi.VmaPageSizeBytes, s2fd.PageSize));
            }
            s2vi.Device = true;
        }
        return 1;
    }

    /// <summary>
    /// kvm_s2_fault_compute_prot: no execution from non-cacheable memory (-ENOEXEC); R, W if the page may be
    /// written (with logging, only on a write or for device memory), no right the L1 hypervisor withholds, X for a
    /// fetch, then the memory type (Device or, with VM_ALLOW_ANY_UNCACHED, Normal-NC) or X on a DIC CPU.
    /// </summary>
    private static int KvmS2FaultComputeProt(in S2FaultDesc s2fd, in S2FaultVmaInfo s2vi, out Prot prot)
    {
        prot = Prot.None;
        if (s2fd.ExecFault && s2vi.MapNonCacheable)
            return -KernelRules.ExecOnDevice(in s2fd, KernelFunctions.KvmS2FaultComputeProt).Errno;

        prot = Prot.R;
        if (s2vi.MapWritable && (s2vi.Device || !s2fd.Slot.IsLogging || s2fd.WriteFault))
            prot |= Prot.W;
        else if (s2vi.MapWritable)
            KernelRules.LoggingReadOnly(in s2fd, KernelFunctions.KvmS2FaultComputeProt);

        if (s2fd.Nested is { } nested)
            prot = AdjustNestedFaultPerms(in s2fd, nested, prot);

        if (s2fd.ExecFault)
            prot |= Prot.X;

        bool dic = s2fd.Features.Dic;
        Prot deviceType = !s2vi.MapNonCacheable ? Prot.None : (s2vi.VmFlags & VmFlags.AllowAnyUncached) != 0 ? Prot.NormalNC : Prot.Device;
        if (deviceType != Prot.None)
            prot |= deviceType;
        else if (dic)
            prot |= Prot.X;

        if (s2fd.Nested is { } nestedExec)
            prot = AdjustNestedExecPerms(in s2fd, nestedExec, prot);

        s2fd.Explain?.Add(new ProtStep(KernelFunctions.KvmS2FaultComputeProt, prot, deviceType switch
        {
            Prot.NormalNC => ProtReason.NormalNonCacheable,
            Prot.Device => ProtReason.Device,
            _ => dic ? ProtReason.NormalDic : ProtReason.Normal,
        }));
        return 0;
    }

    /// <summary>
    /// kvm_s2_fault_map: under the MMU lock, a page that may be upgraded (max_map_size not PAGE_SIZE, not
    /// non-cacheable) keeps the size of the leaf a permission fault hit, or becomes a THP block
    /// (transparent_hugepage_adjust); a permission fault whose leaf keeps its size is relaxed, anything else
    /// mapped at gfn_to_gpa(gfn). A shadow stage 2 records what it mapped from which L1 IPA; a writable page
    /// is marked dirty at its canonical gfn.
    /// </summary>
    private static FaultResult KvmS2FaultMap(in S2FaultDesc s2fd, in S2FaultVmaInfo s2vi, Prot prot, ref S2FaultResult result)
    {
        ulong page = s2fd.PageSize;
        ulong permFaultGranule = s2fd.PermissionFaultGranule;
        ulong mappingSize = s2vi.VmaPageSizeBytes;
        ulong pa = s2vi.Pa;
        ulong gfnIpa = s2vi.GfnIpa;
        ulong canonicalIpa = GetCanonicalGfn(in s2fd, in s2vi, record: false);

        if (mappingSize == page && !(s2vi.MaxMapSizeBytes == page || s2vi.MapNonCacheable))
        {
            if (permFaultGranule > page)
            {
                mappingSize = permFaultGranule;
                s2fd.Explain?.Add(new FaultGranuleKeptStep(permFaultGranule, KernelFunctions.KvmS2FaultMap));
            }
            else
            {
                mappingSize = KernelRules.TransparentHugepageAdjustByHostWalk(in s2fd, ref gfnIpa, ref pa);
            }
            canonicalIpa &= ~(mappingSize - 1);
        }

        // A permission fault relaxes only when the size stays that of the leaf it hit; else the map changes the size.
        // 7.x walks with KVM_PGTABLE_WALK_SHARED alone (6.x added HANDLE_FAULT): a leaf that needs no update is
        // skipped rather than ending the walk with -EAGAIN. SHARED itself has no meaning with one vCPU.
        bool relax = mappingSize == permFaultGranule;
        FaultResult r = KernelRules.Install(in s2fd, relax, gfnIpa, mappingSize, pa, prot, WalkFlags.None);
        if (!relax && (r.PgtableErrno == 0 || r.PgtableErrno == Errno.EAGAIN) && s2fd.Mmu.IsNested)
            s2fd.Mmu.RecordGuestS2Mapping(canonicalIpa, gfnIpa, mappingSize);
        if (r.PgtableErrno == 0)
            result.MappingSizeBytes = mappingSize;
        return KernelRules.MarkDirtyIfWritten(in s2fd, in r, (prot & Prot.W) != 0, canonicalIpa);
    }

    /// <summary>adjust_nested_fault_perms: no W or R the L1 hypervisor's leaf withholds (its level goes in SW bits, not modelled).</summary>
    private static Prot AdjustNestedFaultPerms(in S2FaultDesc s2fd, in NestedTranslation nested, Prot prot)
    {
        Prot before = prot;
        if (!nested.Writable)
            prot &= ~Prot.W;
        if (!nested.Readable)
            prot &= ~Prot.R;
        if (prot != before)
            s2fd.Explain?.Add(new NestedPermsAdjustStep(KernelFunctions.AdjustNestedFaultPerms, before, prot, nested.Perms));
        return prot;
    }

    /// <summary>adjust_nested_exec_perms: no execution the L1 hypervisor's leaf withholds (UX and PX together in the model).</summary>
    private static Prot AdjustNestedExecPerms(in S2FaultDesc s2fd, in NestedTranslation nested, Prot prot)
    {
        Prot before = prot;
        if (!nested.Executable)
            prot &= ~Prot.X;
        if (prot != before)
            s2fd.Explain?.Add(new NestedPermsAdjustStep(KernelFunctions.AdjustNestedExecPerms, before, prot, nested.Perms));
        return prot;
    }
}
