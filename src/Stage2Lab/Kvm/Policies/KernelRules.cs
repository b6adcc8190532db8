using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.PageTables;

namespace Stage2Lab.Kvm.Policies;

/// <summary>Which of the seed's two points a PFNMAP block-size test checks (all of them in every real kernel).</summary>
[Flags]
public enum PfnMapChecks
{
    None = 0,
    /// <summary>The seed's first point: HVA and PA congruent modulo the block size.</summary>
    PaAlignment = 1,
    /// <summary>The seed's second point: the block lies inside the VMA.</summary>
    VmaBounds = 2,
    All = PaAlignment | VmaBounds,
}

/// <summary>
/// The helpers of arch/arm64/kvm/mmu.c that several kernel versions share, each named after its function,
/// recording its test and numbers in the decision record when one is being kept.
/// </summary>
public static class KernelRules
{
    /// <summary>
    /// fault_supports_stage2_huge_mapping (unchanged 5.4 → 6.19): the slot's IPA and HVA have the same offset
    /// within a block of <paramref name="mapSize"/>, and the block around hva lies inside the slot.
    /// </summary>
    public static bool FaultSupportsStage2HugeMapping(Memslot slot, ulong hva, ulong mapSize, ulong pageSize, DecisionRecord? x)
    {
        if (mapSize == pageSize)
            return true;
        ulong mask = mapSize - 1;
        ulong ipaResidue = slot.Ipa & mask, hvaResidue = slot.UserspaceAddr & mask;
        if (ipaResidue != hvaResidue)
        {
            x?.Check("fault_supports_stage2_huge_mapping", false,
                $"{SizeText.Format(mapSize)}: slot IPA 0x{slot.Ipa:x} ≡ 0x{ipaResidue:x} but slot HVA 0x{slot.UserspaceAddr:x} ≡ 0x{hvaResidue:x} (mod {SizeText.Format(mapSize)}): a block would map the wrong pages");
            return false;
        }
        ulong blockStart = hva & ~mask;
        bool inside = blockStart >= slot.UserspaceAddr && blockStart + mapSize <= slot.HvaEnd;
        x?.Check("fault_supports_stage2_huge_mapping", inside, inside
            ? $"{SizeText.Format(mapSize)}: IPA/HVA offsets agree (0x{ipaResidue:x}); block HVA [0x{blockStart:x}, 0x{blockStart + mapSize:x}) lies inside the slot's HVA range [0x{slot.UserspaceAddr:x}, 0x{slot.HvaEnd:x})"
            : $"{SizeText.Format(mapSize)}: block HVA [0x{blockStart:x}, 0x{blockStart + mapSize:x}) is not inside the slot's HVA range [0x{slot.UserspaceAddr:x}, 0x{slot.HvaEnd:x})");
        return inside;
    }

    /// <summary>
    /// The PUD/PMD test of get_vma_page_shift (5.14+) and device_rough_page_shift (the seed, v3): with
    /// pa = (vm_pgoff &lt;&lt; PAGE_SHIFT) + (hva - vm_start), the largest block size for which hva ≡ pa,
    /// ALIGN_DOWN(hva) ≥ vm_start and ALIGN(hva) ≤ vm_end — literally ALIGN, so for a block-aligned hva the
    /// VMA end is not really checked.
    /// </summary>
    public static int PfnMapBlockShift(HostPageTableConfig host, Vma vma, ulong hva, string function, DecisionRecord? x, PfnMapChecks checks = PfnMapChecks.All)
    {
        ulong pa = (vma.PgOff << host.PageShift) + (hva - vma.Start);
        if (!host.PmdFolded && VmaBlockFits(host.PudShift, vma, hva, pa, function, x, checks))
            return host.PudShift;
        if (VmaBlockFits(host.PmdShift, vma, hva, pa, function, x, checks))
            return host.PmdShift;
        x?.Note(function, $"no block size fits: PAGE_SIZE ({host.Granule.Name})");
        return host.PageShift;
    }

    private static bool VmaBlockFits(int shift, Vma vma, ulong hva, ulong pa, string function, DecisionRecord? x, PfnMapChecks checks)
    {
        ulong size = 1UL << shift, mask = size - 1;
        string name = SizeText.Format(size);
        if ((checks & PfnMapChecks.PaAlignment) != 0 && (hva & mask) != (pa & mask))
        {
            x?.Check(function, false, $"{name}: hva 0x{hva:x} ≡ 0x{hva & mask:x} but pa 0x{pa:x} (from vm_pgoff 0x{vma.PgOff:x}) ≡ 0x{pa & mask:x} (mod {name})");
            return false;
        }
        ulong down = hva & ~mask;
        ulong up = (hva + mask) & ~mask;
        if ((checks & PfnMapChecks.VmaBounds) == 0)
        {
            x?.Check(function, true, $"{name}: (this variant checks {checks}) hva 0x{hva:x}, pa 0x{pa:x}");
            return true;
        }
        if (down < vma.Start)
        {
            x?.Check(function, false, $"{name}: ALIGN_DOWN(hva) 0x{down:x} < vm_start 0x{vma.Start:x}");
            return false;
        }
        if (up > vma.End)
        {
            x?.Check(function, false, $"{name}: ALIGN(hva) 0x{up:x} > vm_end 0x{vma.End:x}");
            return false;
        }
        string caveat = up == hva && hva + size > vma.End
            ? $" — note hva is {name}-aligned so ALIGN(hva) == hva: the block [0x{hva:x}, 0x{hva + size:x}) runs past vm_end 0x{vma.End:x} unchecked"
            : "";
        x?.Check(function, true, $"{name}: hva ≡ pa ≡ 0x{hva & mask:x} (mod {name}); ALIGN_DOWN(hva) 0x{down:x} ≥ vm_start 0x{vma.Start:x}; ALIGN(hva) 0x{up:x} ≤ vm_end 0x{vma.End:x}{caveat}");
        return true;
    }

    /// <summary>is_vm_hugetlb_page(vma) → huge_page_shift(hstate_vma(vma)): the hugetlbfs page size's shift.</summary>
    public static int HugePageShift(Vma vma, DecisionRecord? x, string function = "user_mem_abort")
    {
        int shift = System.Numerics.BitOperations.Log2(vma.HugePageSize);
        x?.Note(function, $"hugetlbfs VMA: huge_page_shift = {shift} ({SizeText.Format(vma.HugePageSize)})");
        return shift;
    }

    /// <summary>
    /// The first size user_mem_abort considered before the 2021 series (5.5 → 5.13): the hstate size for
    /// hugetlbfs, else PAGE_SIZE; then <c>logging_active || VM_PFNMAP</c> forces PAGE_SIZE (force_pte).
    /// </summary>
    public static int VmaShiftBefore2021(HostPageTableConfig host, Vma vma, bool logging, ref bool forcePte, DecisionRecord? x)
    {
        int shift = vma.IsHugetlb ? HugePageShift(vma, x) : host.PageShift;
        if (logging || vma.IsPfnMap)
        {
            forcePte = true;
            shift = host.PageShift;
            x?.Note("user_mem_abort", logging ? "dirty logging is on: force_pte, PAGE_SIZE" : "VM_PFNMAP VMA: force_pte, PAGE_SIZE (device memory is mapped page by page)");
        }
        return shift;
    }

    /// <summary>
    /// get_vma_page_shift (5.14 → 6.19): hugetlb (not PFNMAP) gives the hstate shift; other non-PFNMAP VMAs
    /// PAGE_SHIFT; PFNMAP the largest block vm_pgoff allows.
    /// </summary>
    public static int GetVmaPageShift(HostPageTableConfig host, Vma vma, ulong hva, DecisionRecord? x)
    {
        if (vma.IsHugetlb && !vma.IsPfnMap)
            return HugePageShift(vma, x, "get_vma_page_shift");
        if (!vma.IsPfnMap)
        {
            x?.Note("get_vma_page_shift", $"not VM_PFNMAP: PAGE_SHIFT ({host.Granule.Name})");
            return host.PageShift;
        }
        return PfnMapBlockShift(host, vma, hva, "get_vma_page_shift", x);
    }

    /// <summary>
    /// The vma_shift switch of user_mem_abort (5.11 → 6.19): keep PUD if the slot supports it, else fall to
    /// PMD (CONT_PMD hugetlb becomes PMD), keep PMD if supported, else PAGE with force_pte (CONT_PTE too).
    /// </summary>
    public static int ResolveVmaShift(HostPageTableConfig host, Memslot slot, ulong hva, int shift, ref bool forcePte, DecisionRecord? x)
    {
        ulong page = host.PageSize;
        if (shift == host.PudShift && !host.PmdFolded)
        {
            if (FaultSupportsStage2HugeMapping(slot, hva, host.PudSize, page, x))
                return shift;
            shift = host.PmdShift;
        }
        else if (shift == host.ContPmdShift)
        {
            x?.Note("user_mem_abort", $"CONT_PMD hugetlb page ({SizeText.Format(host.ContPmdSize)}): map PMD_SIZE ({SizeText.Format(host.PmdSize)}) blocks");
            shift = host.PmdShift;
        }
        if (shift == host.PmdShift)
        {
            if (FaultSupportsStage2HugeMapping(slot, hva, host.PmdSize, page, x))
                return shift;
            forcePte = true;
            x?.Note("user_mem_abort", $"fall back to PAGE_SIZE with force_pte");
            return host.PageShift;
        }
        if (shift == host.ContPteShift)
        {
            x?.Note("user_mem_abort", $"CONT_PTE hugetlb page ({SizeText.Format(host.ContPteSize)}): PAGE_SIZE with force_pte");
            forcePte = true;
            return host.PageShift;
        }
        return shift;
    }

    /// <summary>
    /// user_mem_abort (5.x → 6.19): both the canonical and the fault IPA are aligned down for PMD/PUD mappings so
    /// the right pfn is found and the block lands in the right place; page-size mappings keep the HPFAR's
    /// 4K-aligned IPA.
    /// </summary>
    public static ulong AlignFaultIpa(HostPageTableConfig host, ulong faultIpa, ulong sizeBytes) =>
        sizeBytes == host.PmdSize || sizeBytes == host.PudSize ? faultIpa & ~(sizeBytes - 1) : faultIpa;

    /// <summary>
    /// The page-size branch of user_mem_abort (5.15 → 6.19): a permission fault on a block keeps the block's size
    /// (fault_granule, f2cc327303b1); otherwise transparent_hugepage_adjust may upgrade to PMD_SIZE.
    /// </summary>
    public static ulong KeepFaultGranuleOrAdjustThp(in FaultContext ctx, ulong faultGranule, ref ulong ipa, ref ulong pa)
    {
        KvmVm vm = ctx.Vm;
        if (ctx.IsPermissionFault && faultGranule > vm.PageSize)
        {
            ctx.Explain?.Note("user_mem_abort", $"permission fault on a {SizeText.Format(faultGranule)} leaf: keep its size");
            return faultGranule;
        }
        return TransparentHugepageAdjustByHostWalk(vm, ctx.Slot, ctx.Hva, ref ipa, ref pa, ctx.Explain);
    }

    /// <summary>
    /// get_user_mapping_size (5.15+): the size of the host page-table leaf mapping hva (PAGE, PMD or PUD).
    /// </summary>
    public static ulong GetUserMappingSize(KvmVm vm, ulong hva)
    {
        return vm.Host.TryTranslate(hva, out HostMapping mapping) ? mapping.LeafSizeBytes : 0;
    }

    /// <summary>
    /// transparent_hugepage_adjust (5.15 → 6.19): if the slot allows a PMD block here and the host maps hva
    /// with a leaf of at least PMD_SIZE (a THP), map PMD_SIZE from the PMD-aligned IPA and pfn.
    /// </summary>
    public static ulong TransparentHugepageAdjustByHostWalk(KvmVm vm, Memslot slot, ulong hva, ref ulong ipa, ref ulong pa, DecisionRecord? x)
    {
        HostPageTableConfig host = vm.HostConfig;
        if (!FaultSupportsStage2HugeMapping(slot, hva, host.PmdSize, host.PageSize, x))
            return host.PageSize;
        ulong leaf = GetUserMappingSize(vm, hva);
        if (leaf < host.PmdSize)
        {
            x?.Check("transparent_hugepage_adjust", false, $"get_user_mapping_size(hva 0x{hva:x}) = {SizeText.Format(leaf)}: not a THP, PAGE_SIZE");
            return host.PageSize;
        }
        ulong mask = ~(host.PmdSize - 1);
        x?.Check("transparent_hugepage_adjust", true, $"get_user_mapping_size(hva 0x{hva:x}) = {SizeText.Format(leaf)} ≥ PMD_SIZE: map {SizeText.Format(host.PmdSize)} at IPA 0x{ipa & mask:x}, PA 0x{pa & mask:x}");
        ipa &= mask;
        pa &= mask;
        return host.PmdSize;
    }

    /// <summary>
    /// kvm_is_transparent_hugepage (5.5 → 5.14): PageTransCompoundMap(pfn_to_page(pfn)) — true when the page
    /// is part of a PMD-mapped THP. For a pfn without a struct page (not RAM) pfn_to_page reads memory that is
    /// no page at all: the model answers "not a THP" and reports the touch.
    /// </summary>
    public static bool IsTransparentHugepage(KvmVm vm, ulong hva, ulong pa, ref bool touchedNonRamPage, DecisionRecord? x)
    {
        if (!vm.Memory.IsRam(pa))
        {
            touchedNonRamPage = true;
            x?.Check("kvm_is_transparent_hugepage", false, $"pfn 0x{pa >> vm.PageShift:x} (PA 0x{pa:x}) is not RAM: pfn_to_page() dereferences a struct page that does not exist (the bug 91a2c34b7d6f fixed)");
            return false;
        }
        bool thp = vm.Host.TryTranslate(hva, out HostMapping m) && m.Vma.Kind == VmaKind.Anonymous && m.LeafSizeBytes >= vm.HostConfig.PmdSize;
        x?.Check("kvm_is_transparent_hugepage", thp, thp ? $"PA 0x{pa:x} is part of a PMD-mapped THP" : $"PA 0x{pa:x} is not part of a THP");
        return thp;
    }

    /// <summary>
    /// The first check of user_mem_abort from 5.5 to 5.15: a permission fault that is neither a write nor an
    /// instruction fetch cannot happen (KVM maps everything readable): -EFAULT.
    /// </summary>
    public static bool IsUnexpectedReadPermissionFault(in FaultContext ctx)
    {
        if (!ctx.IsPermissionFault || ctx.WriteFault || ctx.ExecFault)
            return false;
        ctx.Explain?.Check("user_mem_abort", false, "read permission fault: unexpected, -EFAULT");
        return true;
    }

    /// <summary>vma_lookup / find_vma_intersection(hva, hva + 1): the VMA holding the faulting HVA (none: -EFAULT).</summary>
    public static Vma? LookupVma(in FaultContext ctx, string function)
    {
        Vma? vma = ctx.Vm.Host.FindVma(ctx.Hva);
        if (ctx.Explain is { } x)
        {
            if (vma is null)
                x.Check(function, false, $"no VMA contains HVA 0x{ctx.Hva:x}: -EFAULT");
            else
                x.Check(function, true, $"VMA {vma}");
        }
        return vma;
    }

    /// <summary>
    /// gfn_to_pfn_prot / __gfn_to_pfn_memslot / __kvm_faultin_pfn: fault the guest page's HVA in on the host and
    /// return its PA, writable unless the slot or VMA is read-only. False when the host has no page (-EFAULT).
    /// </summary>
    public static bool FaultInPfn(in FaultContext ctx, ulong gfnIpa, string function, out ulong pa, out bool writable)
    {
        KvmVm vm = ctx.Vm;
        bool ok = vm.FaultInPfn(ctx.Slot, gfnIpa, out pa, out writable);
        if (ctx.Explain is { } x)
        {
            if (ok)
                x.Note(function, $"gfn 0x{gfnIpa >> vm.PageShift:x} → PA 0x{pa:x}{(writable ? ", writable" : ", read-only")}");
            else
                x.Check(function, false, "no host page: -EFAULT");
        }
        return ok;
    }

    /// <summary>The -ENOEXEC of user_mem_abort (5.5+): the guest may not execute from device memory.</summary>
    public static FaultResult ExecOnDevice(DecisionRecord? x)
    {
        x?.Check("user_mem_abort", false, "instruction fetch from device memory: -ENOEXEC");
        return FaultResult.Fail(Errno.ENOEXEC);
    }

    /// <summary>
    /// The prot user_mem_abort asks for (5.5 → 6.19): R; W if the page may be written; X for an instruction
    /// fetch; then the memory type for device memory (Device, or Normal-NC in 6.8+), or X for normal memory on a
    /// CPU with DIC (no I-cache maintenance needed).
    /// </summary>
    public static Prot FaultProt(bool writable, bool execFault, Prot deviceType, bool dic, DecisionRecord? x)
    {
        Prot prot = Prot.R;
        if (writable)
            prot |= Prot.W;
        if (execFault)
            prot |= Prot.X;
        if (deviceType != Prot.None)
            prot |= deviceType;
        else if (dic)
            prot |= Prot.X;
        x?.Note("user_mem_abort", $"prot {prot.ToLetters()}: " + (deviceType switch
        {
            Prot.NormalNC => "VM_ALLOW_ANY_UNCACHED: Normal-NC",
            Prot.Device => "device memory: Device-nGnRE",
            _ => dic ? "normal memory, DIC: executable" : "normal memory",
        }));
        return prot;
    }

    /// <summary>
    /// Calls relax_perms or map as user_mem_abort ends, and fills the result. The map call's IPA is the
    /// argument as passed (block-aligned for blocks, 4K-aligned otherwise).
    /// </summary>
    public static FaultResult Install(KvmVm vm, bool relax, ulong ipa, ulong sizeBytes, ulong pa, Prot prot, WalkFlags flags, DecisionRecord? x)
    {
        int ret;
        var result = new FaultResult { Ipa = ipa, SizeBytes = sizeBytes, Pa = pa, Prot = prot };
        if (relax)
        {
            ret = vm.Stage2.RelaxPerms(ipa, prot, flags);
            result.Outcome = FaultOutcome.Relaxed;
            x?.Note("kvm_pgtable_stage2_relax_perms", $"relax IPA 0x{ipa:x} to {prot.ToLetters()}{(ret != 0 ? $": {Errno.Name(ret)}" : "")}");
        }
        else
        {
            ret = vm.Stage2.Map(ipa, sizeBytes, pa, prot, vm.FaultCache, flags);
            result.Outcome = FaultOutcome.Mapped;
            x?.Note("kvm_pgtable_stage2_map", $"map IPA 0x{ipa:x} size {SizeText.Format(sizeBytes)} to PA 0x{pa:x} {prot.ToLetters()}{(ret != 0 ? $": {Errno.Name(ret)}" : "")}");
        }
        result.PgtableErrno = -ret;
        if (x is not null && !relax && ret == 0)
            NoteHostMismatch(vm, x, ipa, sizeBytes, pa);
        return result;
    }

    /// <summary>For an explanation: does the new leaf map the faulting page where the host maps its HVA?</summary>
    private static void NoteHostMismatch(KvmVm vm, DecisionRecord x, ulong ipa, ulong sizeBytes, ulong pa)
    {
        ulong faultPage = x.Ipa & vm.Granule.PageMask;
        Memslot? slot = vm.Memslots.Find(faultPage);
        if (slot is null || faultPage < ipa || faultPage - ipa >= sizeBytes)
            return;
        ulong hva = slot.HvaOf(faultPage);
        ulong mapped = pa + (faultPage - ipa);
        if (!vm.Host.TryTranslate(hva, out Host.HostMapping host))
            x.Check("host page table", false, $"the leaf covers HVA 0x{hva:x}, which no VMA maps: the guest reaches PA 0x{mapped:x} the VMM does not own");
        else if (host.Pa != mapped)
            x.Check("host page table", false, $"the leaf maps IPA 0x{faultPage:x} to PA 0x{mapped:x}, but the host maps its HVA 0x{hva:x} to PA 0x{host.Pa:x}: a wrong-PA mapping");
    }
}
