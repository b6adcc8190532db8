using System.Collections.Concurrent;
using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Fuzzing;

/// <summary>What kinds of layouts a campaign generates.</summary>
public enum FuzzLayout
{
    /// <summary>What a careful VMM builds: a slot per VMA, exactly its size; PFNMAP vm_pgoff is the PFN; no
    /// remapped pieces, no device memory outside PFNMAP VMAs; munmap only of RAM.</summary>
    Ordinary,
    /// <summary>Everything the model has: remapped PFNMAP pieces, vfio file-offset vm_pgoff, fault-time remap,
    /// VM_MIXEDMAP, device memory in anonymous VMAs, memslots larger than their VMA, munmap of BARs.</summary>
    Any,
}

/// <summary>Turns a <see cref="CaseChoice"/> into a scenario (host, VMAs, memslots, timeline of single events).</summary>
public static class FuzzCaseBuilder
{
    private const ulong HvaBase = 0x7f00_0000_0000;
    private const ulong HvaSpacing = 0x10_0000_0000;   // 64 GiB between VMAs
    private const ulong RamBase = 0x8000_0000;
    private const ulong RamSize = 64UL << 30;
    private const ulong DeviceBase = 0x40_0000_0000;
    private const ulong DeviceSize = 256UL << 30;

    /// <summary>Events per case whose names are kept (a case has 48 at most by default).</summary>
    private const int CachedEventNames = 64;

    private static readonly string[] VmaNames = ["m0", "m1", "m2", "m3"];
    private static readonly ConcurrentDictionary<string, string[]> EventNames = new();

    public static Scenario Build(CaseChoice c, FuzzLayout layout, string policy, VmFlavor flavor = VmFlavor.Kvm)
    {
        Granule granule = c.Granule switch { <= 6 => Granule.Size4K, <= 8 => Granule.Size16K, _ => Granule.Size64K };
        var host = new HostPageTableConfig(granule);
        ulong page = granule.PageSize, pmd = host.PmdSize;
        // The largest block whose alignment the layout plays with: the PUD, capped at 16 GiB (a 64K host's 4 TiB
        // PUD fits in no IPA space a fuzz VM has).
        ulong pud = Math.Min(host.PmdFolded ? pmd : host.PudSize, 16UL << 30);
        int ipaBits = c.IpaSize switch { 0 => 40, 1 => 42, 2 => 44, _ => 38 };
        ulong ipaLimit = 1UL << ipaBits;
        ulong slotSpacing = ipaLimit / 16;

        var s = new Scenario { Name = "fuzz", SourceFile = "fuzz.yaml" };
        s.Host.PageSize = granule;
        s.Host.Thp = ThpMode.Madvise;
        s.Host.Ram.Add(new RangeSpec { Name = "dram", Base = RamBase, SizeBytes = RamSize });
        s.Host.Devices.Add(new RangeSpec { Name = "bar", Base = DeviceBase, SizeBytes = DeviceSize });
        s.Vm.IpaBits = ipaBits;
        s.Vm.Fwb = (c.Granule & 1) == 1;
        s.Vm.Dic = c.Granule != 3;
        s.Vm.Policies.Add(policy);
        s.Vm.Pkvm = flavor;

        s.Mappings.Capacity = c.Vmas.Length;
        s.Memslots.Capacity = c.Vmas.Length;
        for (int i = 0; i < c.Vmas.Length; i++)
        {
            VmaChoice v = c.Vmas[i];
            uint kinds = layout == FuzzLayout.Any ? 6u : 4u;
            uint kind = v.Kind % kinds;
            ulong hvaBase = HvaBase + (ulong)i * HvaSpacing;
            ulong ramPa = RamBase + (ulong)i * (8UL << 30);
            ulong devPa = DeviceBase + (ulong)i * (32UL << 30);
            var spec = new VmaSpec { Name = i < VmaNames.Length ? VmaNames[i] : $"m{i}" };
            ulong block = kind == 2 ? HugetlbSize(host, v.Extra) : pmd;
            ulong size = block * (1 + v.Size % 4);
            if (size > (4UL << 30))
                size = block;
            // Where the VMA starts: PUD-aligned, PMD-aligned, PMD plus a page, or any page.
            ulong offset = (v.Align % 4) switch
            {
                0 => 0,
                1 => pmd * (1 + v.Extra % 3),
                2 => pmd + page,
                _ => page * (1 + v.Extra % 511),
            };
            if (kind == 2)
                offset = (v.Align % 2) * block;
            spec.Start = hvaBase + offset;
            spec.SizeBytes = size;
            switch (kind)
            {
                case 0:
                case 1:
                    spec.Kind = VmaKind.Anonymous;
                    spec.Thp = kind == 0;
                    spec.Pa = ramPa + ((spec.Start % pmd) & ~(page - 1));
                    break;
                case 2:
                    spec.Kind = VmaKind.Hugetlb;
                    spec.HugePageSize = block;
                    spec.Pa = (ramPa + block - 1) & ~(block - 1);
                    break;
                case 3:
                    spec.Kind = VmaKind.PfnMap;
                    // The PA agrees with the HVA modulo a PUD unless the flags shift it by some pages.
                    ulong pa = devPa + (spec.Start % pud) + ((v.Flags & 1) != 0 ? page * (1 + v.Extra % 7) : 0);
                    spec.PgOff = pa >> granule.PageShift;
                    spec.HostPmd = (v.Flags & 2) != 0;
                    spec.UncachedOk = (v.Flags & 4) != 0;
                    break;
                case 4:
                    {
                        // Any: a PFNMAP VMA the host remapped in pieces, or whose vm_pgoff is a vfio file offset.
                        spec.Kind = VmaKind.PfnMap;
                        ulong basePa = devPa + (spec.Start % pud);
                        spec.PgOff = basePa >> granule.PageShift;
                        spec.HostPmd = (v.Flags & 2) != 0;
                        if ((v.Flags & 8) != 0)
                        {
                            spec.VfioRegionIndex = 1;
                            spec.PgOff = null;
                            spec.Device = "bar";
                            spec.DeviceOffset = basePa - DeviceBase + page * (v.Extra % 5);
                        }
                        else
                        {
                            ulong pieceOffset = (v.Extra % (uint)Math.Max(1, size / page)) * page;
                            ulong pieceSize = Math.Min(page * (1 + v.Flags % 3), size - pieceOffset);
                            spec.Pieces.Add(new RemapPiece(spec.Start + pieceOffset, pieceSize, devPa + (16UL << 30) + page * (v.Extra % 64)));
                        }
                        break;
                    }
                default:
                    {
                        // Any: device memory that is not VM_PFNMAP when KVM looks at the VMA.
                        switch (v.Flags % 3)
                        {
                            case 0:
                                spec.Kind = VmaKind.PfnMap;
                                spec.FaultTimeRemap = true;
                                spec.PgOff = (devPa + (spec.Start % pud)) >> granule.PageShift;
                                break;
                            case 1:
                                spec.Kind = VmaKind.Anonymous;
                                spec.MixedMap = true;
                                spec.Thp = true;
                                spec.Pa = devPa + ((spec.Start % pmd) & ~(page - 1));
                                break;
                            default:
                                spec.Kind = VmaKind.Anonymous;
                                spec.Thp = true;
                                spec.Pa = devPa + ((spec.Start % pmd) & ~(page - 1));
                                break;
                        }
                        break;
                    }
            }
            s.Mappings.Add(spec);

            // Its memslot: the IPA agrees with the HVA modulo a PUD, a PMD only, or a page only.
            ulong ipaBase = slotSpacing * (ulong)(i + 1);
            ulong ipa = ipaBase + (v.Align / 4 % 3) switch
            {
                0 => spec.Start % pud,
                1 => spec.Start % pmd,
                _ => (spec.Start % pmd) + page,
            };
            ipa &= ~(page - 1);
            ulong slotSize = spec.SizeBytes;
            if (layout == FuzzLayout.Any && (v.Size / 4 % 3) == 1)
                slotSize += pmd;   // a memslot larger than its VMA
            MemslotFlags flags = MemslotFlags.None;
            if ((v.Flags / 16 % 8) == 1)
                flags |= MemslotFlags.ReadOnly;
            if ((v.Flags / 16 % 8) == 2)
                flags |= MemslotFlags.LogDirtyPages;
            s.Memslots.Add(new MemslotSpec { Id = i, Ipa = ipa, SizeBytes = slotSize, Hva = spec.Start, Flags = flags });
        }

        // A memslot over two adjacent VMAs: RAM, then a BAR whose mmap starts a few pages into a block. Every
        // kernel keeps blocks inside the BAR's VMA here (get_vma_page_shift's ALIGN_DOWN(hva) >= vm_start);
        // only a patch that drops the VMA bounds maps a block across the two.
        if (c.Vmas.Length >= 2 && (c.Vmas[0].Flags / 128 % 4) == 1 && s.Mappings[1].Kind == VmaKind.PfnMap && s.Mappings[0].Kind == VmaKind.Anonymous)
            JoinFirstTwo(s, host, pud);

        s.Timeline.Capacity = c.Events.Length;
        foreach (EventChoice e in c.Events)
            s.Timeline.Add(Event(e, s, layout, host, slotSpacing));
        for (int i = 0; i < s.Timeline.Count; i++)
            s.Timeline[i].Name = EventName(i + 1, s.Timeline[i].Kind);
        return s;
    }

    /// <summary>"N:kind", the name of a case's N-th event: made once per number and kind (a campaign names
    /// millions of events with a few hundred names).</summary>
    internal static string EventName(int number, string kind)
    {
        if (number > CachedEventNames)
            return $"{number}:{kind}";
        // Shared by the campaign's threads: filled once per kind, then only read.
        string[] names = EventNames.GetOrAdd(kind, static k => [.. Enumerable.Range(1, CachedEventNames).Select(n => $"{n}:{k}")]);
        return names[number - 1];
    }

    private static void JoinFirstTwo(Scenario s, HostPageTableConfig host, ulong pud)
    {
        VmaSpec ram = s.Mappings[0], bar = s.Mappings[1];
        ulong page = host.PageSize;
        // The RAM VMA ends 3 pages into a block; the BAR follows it at once and keeps hva ≡ pa.
        ram.SizeBytes = (ram.SizeBytes & ~(host.PmdSize - 1)) + 3 * page;
        bar.Start = ram.Start + ram.SizeBytes;
        bar.Pieces.Clear();
        bar.VfioRegionIndex = null;
        bar.Device = null;
        bar.PgOff = (DeviceBase + (64UL << 30) + (bar.Start % pud)) >> host.PageShift;
        MemslotSpec slot = s.Memslots[0];
        slot.Hva = ram.Start;
        slot.SizeBytes = ram.SizeBytes + bar.SizeBytes;
        s.Memslots.RemoveAt(1);
        for (int i = 1; i < s.Memslots.Count; i++)
            s.Memslots[i].Id = i;
    }

    private static ulong HugetlbSize(HostPageTableConfig host, uint choice)
    {
        // Small sizes first, so shrinking goes towards the cheap ones; PUD (1G) only with 4K pages.
        IReadOnlyList<ulong> sizes = host.HugetlbSizes;
        ulong size = sizes[(int)(choice % (uint)sizes.Count)];
        return size > (1UL << 30) ? sizes[0] : size;
    }

    private static TimelineEvent Event(EventChoice e, Scenario s, FuzzLayout layout, HostPageTableConfig host, ulong slotSpacing)
    {
        ulong page = host.PageSize;
        int n = s.Memslots.Count;
        MemslotSpec slot = s.Memslots[(int)(e.A % (uint)n)];
        VmaSpec vma = s.Mappings[(int)(e.A % (uint)n)];
        uint k = e.Kind % 100;
        if (k < 70)
        {
            // Accesses: mostly inside a slot; every fourth on the first page of a block, where the
            // literal ALIGN(hva) test of get_vma_page_shift matters.
            ulong offset = (e.C % 4) == 0
                ? (e.B % (uint)Math.Max(1, slot.SizeBytes / host.PmdSize)) * host.PmdSize
                : ((ulong)e.B * page + (e.C & 0xff8)) % slot.SizeBytes;
            AccessKind kind = (e.C / 4 % 10) switch { < 5 => AccessKind.Read, < 9 => AccessKind.Write, _ => AccessKind.Exec };
            return new AccessEvent { Ipa = slot.Ipa + offset, Access = kind };
        }
        if (k < 73)
            return new AccessEvent { Ipa = slotSpacing * 15 + (ulong)(e.B % 64) * page, Access = (e.C % 2) == 0 ? AccessKind.Read : AccessKind.Write };
        if (k < 78)
            return new DirtyLogEvent { SlotId = slot.Id, Enable = (e.B % 2) == 0 };
        if (k < 81)
            return new GetDirtyLogEvent { SlotId = slot.Id };
        if (k < 84)
            return new SlotDeleteEvent { SlotId = slot.Id };
        if (k < 87)
        {
            // Move by a whole PUD so the slot keeps its alignment, or by a page.
            ulong delta = (e.B % 2) == 0 ? (host.PmdFolded ? host.PmdSize : host.PudSize) : page;
            ulong target = slot.Ipa + delta * (1 + e.C % 3);
            return new SlotMoveEvent { SlotId = slot.Id, Ipa = target };
        }
        if (k < 91)
            return new UnmapEvent { Zap = true, Hva = vma.Start + (e.B % (uint)Math.Max(1, vma.SizeBytes / page)) * page, SizeBytes = page * (1 + e.C % 512) };
        if (k < 95 && (layout == FuzzLayout.Any || vma.Kind != VmaKind.PfnMap))
        {
            ulong unit = vma.Kind == VmaKind.Hugetlb ? vma.HugePageSize : page;
            ulong units = Math.Max(1, vma.SizeBytes / unit);
            return new UnmapEvent { Hva = vma.Start + (e.B % units) * unit, SizeBytes = unit * (1 + e.C % 3) };
        }
        return new AgeEvent { Hva = vma.Start, SizeBytes = vma.SizeBytes };
    }
}
