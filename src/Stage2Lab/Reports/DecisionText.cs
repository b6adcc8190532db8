using System.Text;
using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.PageTables;

namespace Stage2Lab.Reports;

/// <summary>A fault's decision record as a short explanation a kernel developer would accept.</summary>
public static class DecisionText
{
    public static string Render(DecisionRecord record)
    {
        var text = new StringBuilder();
        text.Append($"{record.Policy}: guest {AccessName(record.Access)} at IPA {Format.Hex(record.Ipa)}\n");
        if (record.Slot is { } slot)
            text.Append($"  memslot: {Slot(slot)}\n");
        if (record.Vma is { } vma)
            text.Append($"  VMA:     {Vma(vma)} (HVA {Format.Hex(record.Hva)})\n");
        foreach (DecisionStep step in record.Steps)
            text.Append($"  {Mark(step.Passed)} {step.Function}: {Describe(step, record)}\n");
        text.Append("  => ").Append(Outcome(record.Result)).Append('\n');
        if (record.BindingConstraint is { } binding)
            text.Append("  binding constraint: ").Append(binding.Function).Append(": ").Append(Describe(binding, record)).Append('\n');
        string events = Events(record.Events);
        if (events.Length > 0)
            text.Append("  page-table work: ").Append(events).Append('\n');
        return text.ToString();
    }

    public static string Mark(bool? passed) => passed switch { true => "✓", false => "✗", null => "·" };

    public static string AccessName(AccessKind access) => access switch
    {
        AccessKind.Read => "read",
        AccessKind.Write => "write",
        _ => "instruction fetch",
    };

    public static string Slot(MemslotInfo s) =>
        $"slot {s.Id} IPA [{H(s.Ipa)}, {H(s.IpaEnd)}) HVA [{H(s.Hva)}, {H(s.HvaEnd)}){((s.Flags & MemslotFlags.ReadOnly) != 0 ? " ro" : "")}{((s.Flags & MemslotFlags.LogDirtyPages) != 0 ? " log" : "")}{((s.Flags & MemslotFlags.GuestMemfd) != 0 ? " guest-memfd" : "")}";

    public static string Vma(VmaInfo v)
    {
        string kind = v.Kind switch
        {
            VmaKind.Anonymous => v.Thp ? "anon+thp" : "anon",
            VmaKind.Hugetlb => $"hugetlb {Size(v.HugePageSizeBytes)}",
            _ => $"pfnmap pgoff {H(v.PgOff)}",
        };
        return $"[{H(v.Start)}, {H(v.End)}) {kind}";
    }

    /// <summary>One step in words, with its numbers. <paramref name="record"/> gives the policy and access it belongs to.</summary>
    public static string Describe(DecisionStep step, DecisionRecord? record = null) => step switch
    {
        HardwareWalkStep w => w.Finding switch
        {
            WalkFinding.Hit => $"valid L{w.Level} leaf maps IPA {H(w.Ipa)} to PA {H(w.Pa)} and allows the {AccessName(record?.Access ?? AccessKind.Read)}: no fault (the MMU sets AF)",
            WalkFinding.PermissionFault => $"L{w.Level} leaf at IPA {H(w.Ipa)} does not allow the {AccessName(record?.Access ?? AccessKind.Read)}: permission fault, level {w.Level}",
            WalkFinding.BeyondIpaSize => $"IPA {H(w.Ipa)} is at or above 2^{w.IpaBits}: translation fault, level {w.Level} ({record?.Policy ?? "this kernel"} has no out-of-IPA-range check)",
            _ => $"no valid entry at L{w.Level} for IPA {H(w.Ipa)}: translation fault, level {w.Level}",
        },
        AbortInjectedStep a => $"IPA {H(a.Ipa)} is at or above 2^{a.IpaBits}: an abort is injected into the guest",
        MemslotLookupStep m => m.Slot is not { } slot ? $"no memslot holds IPA {H(m.FaultIpa)}"
            : m.WriteToReadOnly ? $"{Slot(slot)} is READONLY and this is a write"
            : $"IPA {H(m.FaultIpa)} is in {Slot(slot)}: HVA {H(m.Hva)}",
        MmioExitStep => "exit to the VMM with KVM_EXIT_MMIO; nothing is mapped",
        ExecOutsideMemslotStep => "instruction fetch: -ENOEXEC, an abort is injected into the guest",
        VmaLookupStep v => v.Vma is { } vma ? $"VMA {Vma(vma)}" : $"no VMA contains HVA {H(v.Hva)}: -EFAULT",
        UnexpectedPermissionFaultStep => "read permission fault: unexpected, -EFAULT",
        ForcePteStep f => f.Reason switch
        {
            ForcePteReason.DirtyLogging => "dirty logging is on: force_pte, PAGE_SIZE",
            ForcePteReason.PfnMapBefore2021 => "VM_PFNMAP VMA: force_pte, PAGE_SIZE (device memory is mapped page by page)",
            ForcePteReason.NoBlockFitsSlot => "fall back to PAGE_SIZE with force_pte",
            ForcePteReason.ContPteHugetlb => $"CONT_PTE hugetlb page ({Size(f.FromSizeBytes)}): PAGE_SIZE with force_pte",
            _ => "device pfn: force_pte, PAGE_SIZE",
        },
        HugetlbShiftStep h => $"hugetlbfs VMA: huge_page_shift = {System.Numerics.BitOperations.Log2(h.HugePageSizeBytes)} ({Size(h.HugePageSizeBytes)})",
        VmaPageSizeStep p => p.Reason == VmaPageReason.NotPfnMap
            ? $"not VM_PFNMAP: PAGE_SHIFT ({Size(p.PageSizeBytes)})"
            : $"no block size fits: PAGE_SIZE ({Size(p.PageSizeBytes)})",
        PfnMapBlockCheckStep c => PfnMapBlock(c),
        HugeMappingCheckStep h => HugeMapping(h),
        ContPmdStep c => $"CONT_PMD hugetlb page ({Size(c.ContPmdSizeBytes)}): map PMD_SIZE ({Size(c.PmdSizeBytes)}) blocks",
        UnhandledContiguousHugetlbStep u => $"contiguous hugetlb size {Size(u.SizeBytes)} is not handled: mapped whole from the faulting page (no alignment)",
        PfnFaultInStep p => p.Found ? $"gfn {H(p.Gfn)} → PA {H(p.Pa)}{(p.Writable ? ", writable" : ", read-only")}" : "no host page: -EFAULT",
        DeviceDetectedStep d => d.Effect switch
        {
            DeviceEffect.ForceNonCacheable => d.Function == KernelFunctions.KvmS2FaultPinPfn
                ? "PFNMAP/MIXEDMAP pfn is not RAM: map_non_cacheable (no THP upgrade)"
                : "PFNMAP/MIXEDMAP pfn is not RAM: s2_force_noncacheable (no THP upgrade)",
            DeviceEffect.NoThpUpgrade => $"PA {H(d.Pa)} is not RAM: device (no THP upgrade)",
            DeviceEffect.ForcePte => $"PA {H(d.Pa)} is not RAM: device, force_pte",
            DeviceEffect.KeepSize => $"PA {H(d.Pa)} is not RAM: device",
            _ => $"PA {H(d.Pa)} is not RAM: device — but force_pte is left as it was",
        },
        CacheablePfnMapCheckStep c => c.Passed == true
            ? "cacheable PFNMAP with FWB and DIC: mapped Normal cacheable"
            : "cacheable PFNMAP of a non-RAM pfn needs FWB and DIC: -EFAULT",
        LoggingReadOnlyStep => "logging and not a write: map read-only until the page is written",
        ExecOnDeviceStep => "instruction fetch from device memory: -ENOEXEC",
        FaultGranuleKeptStep g => $"permission fault on a {Size(g.SizeBytes)} leaf: keep its size",
        ThpHostLeafCheckStep t => t.Passed == true
            ? $"get_user_mapping_size(hva {H(t.Hva)}) = {Size(t.LeafSizeBytes)} ≥ PMD_SIZE: map {Size(t.PmdSizeBytes)} at IPA {H(t.Ipa)}, PA {H(t.Pa)}"
            : $"get_user_mapping_size(hva {H(t.Hva)}) = {Size(t.LeafSizeBytes)}: not a THP, PAGE_SIZE",
        ThpPageCheckStep t => !t.IsRam
            ? $"pfn {H(t.Pa >> t.PageShift)} (PA {H(t.Pa)}) is not RAM: pfn_to_page() dereferences a struct page that does not exist (the bug 91a2c34b7d6f fixed)"
            : t.IsThp ? $"PA {H(t.Pa)} is part of a PMD-mapped THP" : $"PA {H(t.Pa)} is not part of a THP",
        ThpAdjustStep t => $"THP: map {Size(t.ToSizeBytes)} at IPA {H(t.Ipa)}, PA {H(t.Pa)}",
        HostLeafSizeStep h => $"VM_PFNMAP: the host maps HVA {H(h.Hva)} with a {Size(h.LeafSizeBytes)} leaf (PA {H(h.Pa)}): at most that size",
        ProtStep p => $"prot {p.Prot.ToLetters()}: " + p.Reason switch
        {
            ProtReason.NormalNonCacheable => "VM_ALLOW_ANY_UNCACHED: Normal-NC",
            ProtReason.Device => "device memory: Device-nGnRE",
            ProtReason.NormalDic => "normal memory, DIC: executable",
            _ => "normal memory",
        },
        InstallStep i => i.Op == InstallOp.Relax
            ? $"relax IPA {H(i.Ipa)} to {i.Prot.ToLetters()}{Err(i.Errno)}"
            : $"map IPA {H(i.Ipa)} size {Size(i.SizeBytes)} to PA {H(i.Pa)} {i.Prot.ToLetters()}{Err(i.Errno)}",
        HostMismatchStep m => m.HostPa is { } hostPa
            ? $"the leaf maps IPA {H(m.Ipa)} to PA {H(m.MappedPa)}, but the host maps its HVA {H(m.Hva)} to PA {H(hostPa)}: a wrong-PA mapping"
            : $"the leaf covers HVA {H(m.Hva)}, which no VMA maps: the guest reaches PA {H(m.MappedPa)} the VMM does not own",
        IoremapAtCreationStep i => $"slot creation mapped {Format.Count(i.Pages)} device pages one by one: IPA {H(i.Ipa)} → PA {H(i.Pa)}, {Size(i.SizeBytes)}{Err(i.Errno)}",
        MemcacheTopupStep m => $"top up the {(m.HypMemcache ? "hyp memcache (pKVM)" : "vCPU memcache")} to {m.MinPages} page{(m.MinPages == 1 ? "" : "s")}: " + m.Reason switch
        {
            MemcacheTopupReason.NotPermissionFault => "not a permission fault, a new leaf may need table pages",
            MemcacheTopupReason.LoggingWrite => "a write with dirty logging may split a block",
            MemcacheTopupReason.Logging => "dirty logging: the fault may split a block",
            MemcacheTopupReason.ProtectedKvm => "under pKVM every fault tops up (EL2 wants the min-pages memcache)",
            _ => "every fault",
        },
        MaxMapSizeStep m => m.Reason switch
        {
            MaxMapSizeReason.DirtyLogging => $"dirty logging is on: max_map_size = PAGE_SIZE ({Size(m.MaxMapSizeBytes)})",
            MaxMapSizeReason.ContPteHugetlb => $"CONT_PTE hugetlb page ({Size(m.FromSizeBytes)}): PAGE_SIZE, max_map_size = PAGE_SIZE",
            _ => $"no block fits: PAGE_SIZE, max_map_size = PAGE_SIZE ({Size(m.MaxMapSizeBytes)})",
        },
        NestedClampStep n => $"shadow stage 2: the L1 hypervisor maps this with a {Size(n.TransSizeBytes)} leaf (kvm_s2_trans_size): max_map_size {Size(n.FromMaxMapSizeBytes)} → {Size(n.MaxMapSizeBytes)}, "
            + (n.SizeBytes < n.FromSizeBytes ? $"mapping {Size(n.FromSizeBytes)} → {Size(n.SizeBytes)}" : $"mapping stays {Size(n.SizeBytes)}"),
        CanonicalGfnStep c => $"the pfn is looked up at L1 IPA {H(c.L1Ipa)} aligned down to {Size(c.SizeBytes)}: {H(c.CanonicalIpa)}",
        NestedWalkStep n => n.Found
            ? $"the L1 hypervisor's stage 2 maps L2 IPA {H(n.L2Ipa)} to L1 IPA {H(n.L1Ipa)} with a {Size(n.SizeBytes)} leaf, {n.Perms.ToLetters()}"
            : $"the L1 hypervisor's stage 2 does not map L2 IPA {H(n.L2Ipa)}",
        NestedPermissionStep n => $"the L1 hypervisor's leaf ({n.Perms.ToLetters()}) does not allow the {AccessName(n.Access)}",
        L1FaultInjectedStep l => $"the {(l.Status == FaultStatus.Permission ? "permission" : "translation")} fault at L2 IPA {H(l.L2Ipa)} is forwarded to the L1 hypervisor",
        NestedPermsAdjustStep n => $"the L1 leaf is {n.L1Perms.ToLetters()}: prot {n.Before.ToLetters()} → {n.After.ToLetters()}",
        GmemPfnStep g => g.Found ? $"guest_memfd page for gfn {H(g.Gfn)}: PA {H(g.Pa)}" : $"no guest_memfd page for gfn {H(g.Gfn)}: KVM_EXIT_MEMORY_FAULT, -EFAULT",
        GmemPageSizeStep g => $"guest_memfd has no huge pages: PAGE_SIZE ({Size(g.PageSizeBytes)})",
        ProtectedPinStep p => p.Result switch
        {
            PinResult.Pinned => $"pinned the page at HVA {H(p.Hva)} (PA {H(p.Pa)}) for the long term",
            PinResult.NotSwapBacked => $"the page at HVA {H(p.Hva)} is not swap-backed (page cache, hugetlbfs): -EIO",
            _ => $"no writable page can be pinned at HVA {H(p.Hva)} (no VMA, VM_PFNMAP/VM_IO or read-only): -EFAULT",
        },
        ProtectedPageStep p => $"a protected guest's memory is donated one page at a time: PAGE_SIZE ({Size(p.PageSizeBytes)}), RWX",
        _ => step.ToString(),
    };

    private static string PfnMapBlock(PfnMapBlockCheckStep c)
    {
        string name = Size(c.SizeBytes);
        ulong mask = c.SizeBytes - 1;
        return c.Result switch
        {
            PfnMapBlockResult.PaMisaligned =>
                $"{name}: hva {H(c.Hva)} ≡ {H(c.Hva & mask)} but pa {H(c.Pa)} (from vm_pgoff {H(c.PgOff)}) ≡ {H(c.Pa & mask)} (mod {name})",
            PfnMapBlockResult.BelowVmStart => $"{name}: ALIGN_DOWN(hva) {H(c.AlignedDownHva)} < vm_start {H(c.VmStart)}",
            PfnMapBlockResult.BeyondVmEnd => $"{name}: ALIGN(hva) {H(c.AlignedUpHva)} > vm_end {H(c.VmEnd)}",
            _ when (c.Checks & PfnMapChecks.VmaBounds) == 0 => $"{name}: (this variant checks {c.Checks}) hva {H(c.Hva)}, pa {H(c.Pa)}",
            _ => $"{name}: hva ≡ pa ≡ {H(c.Hva & mask)} (mod {name}); ALIGN_DOWN(hva) {H(c.AlignedDownHva)} ≥ vm_start {H(c.VmStart)}; ALIGN(hva) {H(c.AlignedUpHva)} ≤ vm_end {H(c.VmEnd)}"
                + (c.RunsPastVmEndUnchecked
                    ? $" — note hva is {name}-aligned so ALIGN(hva) == hva: the block [{H(c.Hva)}, {H(c.Hva + c.SizeBytes)}) runs past vm_end {H(c.VmEnd)} unchecked"
                    : ""),
        };
    }

    private static string HugeMapping(HugeMappingCheckStep h)
    {
        string name = Size(h.SizeBytes);
        string block = $"block HVA [{H(h.BlockHva)}, {H(h.BlockHva + h.SizeBytes)})";
        string slot = $"the slot's HVA range [{H(h.SlotHva)}, {H(h.SlotHvaEnd)})";
        return h.Result switch
        {
            HugeMappingResult.ResidueMismatch =>
                $"{name}: slot IPA {H(h.SlotIpa)} ≡ {H(h.IpaResidue)} but slot HVA {H(h.SlotHva)} ≡ {H(h.HvaResidue)} (mod {name}): a block would map the wrong pages",
            HugeMappingResult.OutsideSlot => $"{name}: {block} is not inside {slot}",
            HugeMappingResult.ProtectedKvmPmdOnly => $"{name}: under protected KVM only PMD_SIZE blocks are supported",
            HugeMappingResult.ProtectedGuest => $"{name}: a protected guest gets no block mappings",
            _ => $"{name}: IPA/HVA offsets agree ({H(h.IpaResidue)}); {block} lies inside {slot}",
        };
    }

    public static string Outcome(in FaultResult r) => r.Outcome switch
    {
        FaultOutcome.Hit => "no fault: the access hits an existing mapping",
        FaultOutcome.Mapped => $"map IPA {Format.Hex(r.Ipa)} size {SizeText.Format(r.SizeBytes)} → PA {Format.Hex(r.Pa)} {r.Prot.ToLetters()}{(r.PgtableErrno != 0 ? $" (failed: {Errno.Name(r.PgtableErrno)})" : "")}",
        FaultOutcome.Relaxed => $"relax permissions at IPA {Format.Hex(r.Ipa)} to {r.Prot.ToLetters()}",
        FaultOutcome.Mmio => "exit to the VMM (KVM_EXIT_MMIO)",
        FaultOutcome.Retry => "return to the guest without a change (retry)",
        FaultOutcome.Injected => "abort injected into the guest (IPA beyond the VM's IPA size)",
        FaultOutcome.ForwardedToL1 => "stage-2 abort forwarded to the L1 hypervisor (its own stage 2 does not map or allow the access)",
        _ => r.Errno == Errno.ENOEXEC ? "-ENOEXEC: an abort is injected into the guest" : $"-{Errno.Name(r.Errno)} returned to the VMM",
    };

    public static string Events(in Stage2Counters e)
    {
        var parts = new List<string>();
        void Add(long n, string what)
        {
            if (n != 0)
                parts.Add($"{Format.Count(n)} {what}");
        }
        Add(e[Stage2Counter.DescriptorWrites], "descriptor writes");
        Add(e[Stage2Counter.BreakBeforeMake], "break-before-make");
        Add(e.LeavesInstalled, "leaves installed");
        Add(e[Stage2Counter.TablePagesAllocated], "table pages allocated");
        Add(e[Stage2Counter.TablePagesFreed], "table pages freed");
        Add(e.TlbiTotal, "TLBIs");
        if (e[Stage2Counter.DcacheCleanBytes] != 0)
            parts.Add($"{Format.Bytes(e[Stage2Counter.DcacheCleanBytes])} cleaned to PoC");
        if (e[Stage2Counter.IcacheInvalBytes] != 0)
            parts.Add($"{Format.Bytes(e[Stage2Counter.IcacheInvalBytes])} I-cache invalidated");
        return string.Join(", ", parts);
    }

    private static string H(ulong value) => Format.Hex(value);

    private static string Size(ulong sizeBytes) => SizeText.Format(sizeBytes);

    private static string Err(int errno) => errno != 0 ? $": {Errno.Name(errno)}" : "";
}
