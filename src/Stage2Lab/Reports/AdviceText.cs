using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Simulation.Advice;

namespace Stage2Lab.Reports;

/// <summary>
/// advise's changes in the user's terms: which mapping or slot, where it goes, and the QEMU (or VMM, or host) option
/// that does it. The facts quoted: QEMU 9.2's vfio_region_mmap aligns each BAR mmap to min(2^ctz(size), 1 GiB);
/// QEMU aligns guest RAM to 2 MiB on Linux (QEMU_VMALLOC_ALIGN) and madvises it MADV_HUGEPAGE (ram_block_add);
/// memory-backend-file takes mem-path, prealloc and align, memory-backend-memfd hugetlb and hugetlbsize.
/// </summary>
public static class AdviceText
{
    /// <summary>What the change is about: "slot 1 (gpu-bar1)", "host (64K pages)".</summary>
    public static string Target(ScenarioChange change) => change switch
    {
        GranuleChange g => $"host ({g.To.Name} pages)",
        { SlotId: { } id, Mappings.Count: > 0 } => $"slot {id} ({string.Join(", ", change.Mappings)})",
        { SlotId: { } id } => $"slot {id}",
        _ => "host",
    };

    /// <summary>The change as an instruction, with its numbers and the option that makes it.</summary>
    public static string Change(ScenarioChange change) => change switch
    {
        AlignHvaChange a => AlignHva(a),
        AlignIpaChange a => $"place slot {a.Slot} at guest address {H(a.NewIpa)} instead of {H(a.OldIpa)}, so that its IPA ≡ its HVA (mod {S(a.BlockBytes)}) "
            + (a.MappingKind == VmaKind.PfnMap
                ? $"— the guest assigns PCI BAR addresses (firmware or kernel) and aligns a BAR to its size, so a BAR of {S(a.BlockBytes)} or more gets this; a smaller one needs the VMM to place it (the guest's accesses move along)"
                : "— the machine's memory map places it (QEMU: the board's RAM base, or addr= of a pc-dimm); the guest's accesses move along"),
        ResizeSlotChange r => $"grow slot {r.Slot} from {S(r.OldSizeBytes)} at {H(r.OldIpa)} to {S(r.NewSizeBytes)} at {H(r.NewIpa)} (+{S(r.GrowthBytes)} of guest memory), "
            + $"and '{r.MappingName}' with it, so that the slot starts and ends on {S(r.BlockBytes)} boundaries: a guest memory size that is a multiple of {S(r.BlockBytes)} (QEMU -m, or the memory backend's size=)",
        SplitSlotChange sp => $"register slot {sp.Slot} as {sp.Pieces.Count} slots, one per mapping ("
            + string.Join("; ", sp.Pieces.Select(p => $"slot {p.Id}: IPA {H(p.Ipa)} +{S(p.SizeBytes)}, '{p.Mapping}'{(p.Logged ? ", logged" : ", not logged")}"))
            + $"), and log only the others' dirty pages, not '{sp.Unlogged}''s: dirty logging is per slot, and while it is on every fault of the slot maps a page; this is for memory that need not be tracked (a device's or a framebuffer's, not the RAM a migration copies)",
        ThpChange t => Thp(t),
        HugetlbChange h => Hugetlb(h),
        HostHugePfnmapChange p => $"let the host map '{p.MappingName}' with PMD-size leaves (huge pfnmap): a host kernel 6.12 or later, where vfio-pci maps a BAR from its huge_fault handler, with the BAR's mmap aligned to its PA (QEMU 9.2 or later)",
        GranuleChange g => $"run a host kernel with {g.To.Name} pages (CONFIG_ARM64_{g.To.Name}_PAGES=y{(g.To.PageShift == 16 ? ", as Ubuntu's and RHEL's -64k kernels are built" : "")}): KVM/arm64 uses the host page size as the stage-2 granule, "
            + $"so a fault maps at least {g.To.Name} and blocks are {Blocks(g.To)}; every mapping and memslot must be {g.To.Name}-aligned",
        NoDirtyLoggingChange n => $"do not log slot {n.Slot}'s dirty pages (drop {LogWhat(n)}): while a slot is logged every fault maps a page; "
            + "if the slot must be tracked (live migration), this is what tracking it costs, else leave KVM_MEM_LOG_DIRTY_PAGES off for it",
        _ => change.Key,
    };

    /// <summary>The binding constraint a suggestion lifts, as the decision explains it.</summary>
    public static string Constraint(Suggestion s) => $"{s.Lifts.Function}: {DecisionText.Describe(s.Lifts, s.From)}";

    /// <summary>Why a tried change is not shown.</summary>
    public static string Reason(TriedChange t) => t.Reason switch
    {
        NotShownReason.SavesNothing => "saves nothing",
        NotShownReason.ChangesBehaviour => "changes what the VM does (more MMIO exits, failed faults or refused ioctls)",
        NotShownReason.CannotBeMade => "cannot be made" + (t.Detail is null ? "" : ": " + t.Detail),
        _ => "its run would need more memory than allowed",
    };

    private static string AlignHva(AlignHvaChange a)
    {
        string what = a.MappingNames.Count == 1 ? $"'{a.MappingNames[0]}'" : $"'{string.Join("', '", a.MappingNames)}' (together)";
        string move = $"mmap {what} at HVA {H(a.NewStart)} instead of {H(a.OldStart)}";
        if (a.Against == AlignReference.Pa)
        {
            string pa = a.Vfio ? "the PA that vm_pgoff gives get_vma_page_shift (vfio-pci's region offset, index << 40)" : "its PA";
            return $"{move}, so that the HVA ≡ {pa} (mod {S(a.BlockBytes)}): QEMU 9.2 and later do this for VFIO BARs (vfio_region_mmap aligns each mmap to min(2^ctz(size), 1 GiB)); "
                + "with an older QEMU or another VMM, reserve size + alignment with a PROT_NONE anonymous mmap and map the BAR at the aligned address inside it (MAP_FIXED)";
        }
        string how = a.BlockBytes <= 2UL << 20
            ? "QEMU aligns guest RAM to 2 MiB already (QEMU_VMALLOC_ALIGN); another VMM should align its RAM mmap the same way"
            : $"QEMU aligns guest RAM to 2 MiB only (QEMU_VMALLOC_ALIGN): use -object memory-backend-file,...,align={S(a.BlockBytes)} (or hugetlbfs pages of {S(a.BlockBytes)}, mapped at aligned addresses)";
        return $"{move}, so that its HVA ≡ the slot's IPA (mod {S(a.BlockBytes)}): {how}";
    }

    private static string Thp(ThpChange t)
    {
        string vma = t.AdviceBefore == false ? $"drop the MADV_NOHUGEPAGE on '{t.MappingName}'" : $"madvise(MADV_HUGEPAGE) on '{t.MappingName}' (QEMU does this for guest RAM in ram_block_add; another VMM must)";
        return t.HostBefore == ThpMode.Never
            ? $"enable transparent huge pages: echo madvise > /sys/kernel/mm/transparent_hugepage/enabled (or 'always'), and {vma}; keep its HVA ≡ IPA (mod 2M), as QEMU's 2 MiB RAM alignment does"
            : $"{vma}; transparent_hugepage/enabled is '{t.HostBefore.ToString().ToLowerInvariant()}'";
    }

    private static string Hugetlb(HugetlbChange h)
    {
        string size = S(h.HugePageBytes);
        ulong pages = h.NewSizeBytes / h.HugePageBytes;
        string reserve = h.HugePageBytes >= 1UL << 30
            ? $"reserve them at boot (hugepagesz={size} hugepages={pages} on the host kernel command line)"
            : $"reserve them (echo {pages} > /sys/kernel/mm/hugepages/hugepages-{h.HugePageBytes >> 10}kB/nr_hugepages, or hugepagesz={size} hugepages={pages} at boot)";
        string text = $"back '{h.MappingName}' with {size} hugetlbfs pages: {reserve}, then QEMU -object memory-backend-file,id=mem0,size={S(h.NewSizeBytes)},mem-path=/dev/hugepages-{size},prealloc=on "
            + $"(a hugetlbfs mount with pagesize={size}) or -object memory-backend-memfd,id=mem0,size={S(h.NewSizeBytes)},hugetlb=on,hugetlbsize={size}, with -machine memory-backend=mem0 (older QEMU: -mem-path -mem-prealloc)";
        if (h.NewStart != h.OldStart)
            text += $"; the mapping moves to HVA {H(h.NewStart)} (hugetlbfs mappings start on a huge page)";
        if (h.NewSizeBytes != h.OldSizeBytes)
            text += $"; its size rounds up to {S(h.NewSizeBytes)}";
        return text;
    }

    private static string LogWhat(NoDirtyLoggingChange n) => (n.LoggedFromCreation, n.EventsDropped) switch
    {
        (true, 0) => "KVM_MEM_LOG_DIRTY_PAGES at its creation",
        (true, var e) => $"KVM_MEM_LOG_DIRTY_PAGES at its creation and {e} dirty-log event(s)",
        (_, var e) => $"{e} dirty-log event(s)",
    };

    private static string Blocks(Granule g) => g.PageShift == 12 ? "2M and 1G" : SizeText.Format(g.LevelSize(2));

    private static string H(ulong value) => Format.Hex(value);

    private static string S(ulong bytes) => SizeText.Format(bytes);
}
