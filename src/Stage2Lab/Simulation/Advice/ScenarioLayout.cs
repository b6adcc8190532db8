using Stage2Lab.Host;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Advice;

/// <summary>
/// Where things are in a scenario, and moving them consistently: a mapping moved in the VMM's address space takes
/// every memslot, munmap, zap and age range inside it along; a memslot moved in the guest's address space takes the
/// workloads and accesses inside it along. Placement finds the nearest free address with a given residue.
/// </summary>
internal static class ScenarioLayout
{
    /// <summary>How many block-sized steps away from the preferred address placement looks, each way.</summary>
    private const int PlacementSteps = 64;

    /// <summary>Every spec of a slot id: the initial memslot and the slot-create events.</summary>
    public static IEnumerable<MemslotSpec> SlotSpecs(Scenario s, int id)
    {
        foreach (MemslotSpec slot in s.Memslots)
        {
            if (slot.Id == id)
                yield return slot;
        }
        foreach (TimelineEvent ev in s.Timeline)
        {
            if (ev is SlotCreateEvent c && c.Slot.Id == id)
                yield return c.Slot;
        }
    }

    /// <summary>Every memslot spec of the scenario (initial and created in the timeline).</summary>
    public static IEnumerable<MemslotSpec> AllSlotSpecs(Scenario s) =>
        s.Memslots.Concat(s.Timeline.OfType<SlotCreateEvent>().Select(c => c.Slot));

    /// <summary>Whether the timeline moves or deletes the slot (its IPA range is then not one fixed range).</summary>
    public static bool SlotIsMovedOrDeleted(Scenario s, int id) =>
        s.Timeline.Any(ev => ev is SlotMoveEvent m && m.SlotId == id || ev is SlotDeleteEvent d && d.SlotId == id);

    public static VmaSpec? Mapping(Scenario s, string name) => s.Mappings.Find(m => m.Name == name);

    /// <summary>The mappings that overlap [hva, hva + size), in HVA order.</summary>
    public static List<VmaSpec> MappingsOver(Scenario s, ulong hva, ulong sizeBytes) =>
        s.Mappings.Where(m => m.Start < hva + sizeBytes && hva < m.Start + m.SizeBytes).OrderBy(m => m.Start).ToList();

    /// <summary>
    /// The PA get_vma_page_shift takes for vm_start: vm_pgoff &lt;&lt; PAGE_SHIFT (mm/…: for vfio-pci's file offsets
    /// that is not a PA at all, but it is what the kernel tests, so it is what an alignment must match).
    /// </summary>
    public static ulong KernelPaOfStart(Scenario s, VmaSpec m)
    {
        int shift = s.Host.PageSize.PageShift;
        if (m.VfioRegionIndex is { } region)
            return (((ulong)region << 40) + m.DeviceOffset) >> shift << shift;
        if (m.PgOff is { } pgoff)
            return pgoff << shift;
        RangeSpec? device = s.Host.Devices.Find(d => d.Name == m.Device);
        return device is null ? 0 : (device.Base + m.DeviceOffset) >> shift << shift;
    }

    /// <summary>
    /// Moves the named mappings, which lie in [lo, hi), so that lo becomes <paramref name="newLo"/>; every memslot,
    /// munmap, zap and age range that starts inside [lo, hi) moves with them.
    /// </summary>
    public static void MoveMappings(Scenario s, IReadOnlyCollection<string> names, ulong lo, ulong hi, ulong newLo)
    {
        ulong delta = newLo - lo; // modulo 2^64: a move down is a wrapping add
        foreach (VmaSpec m in s.Mappings)
        {
            if (!names.Contains(m.Name))
                continue;
            m.Start += delta;
            for (int i = 0; i < m.Pieces.Count; i++)
                m.Pieces[i] = m.Pieces[i] with { Hva = m.Pieces[i].Hva + delta };
        }
        foreach (MemslotSpec slot in AllSlotSpecs(s))
        {
            if (slot.Hva >= lo && slot.Hva < hi)
                slot.Hva += delta;
        }
        foreach (TimelineEvent ev in s.Timeline)
        {
            switch (ev)
            {
                case UnmapEvent u when u.Hva >= lo && u.Hva < hi:
                    u.Hva += delta;
                    break;
                case AgeEvent a when a.Hva >= lo && a.Hva < hi:
                    a.Hva += delta;
                    break;
            }
        }
    }

    /// <summary>
    /// Moves slot <paramref name="id"/> from <paramref name="oldIpa"/> to <paramref name="newIpa"/>, with every
    /// workload and access that lies inside its old IPA range.
    /// </summary>
    public static void MoveSlotIpa(Scenario s, int id, ulong oldIpa, ulong sizeBytes, ulong newIpa)
    {
        ulong delta = newIpa - oldIpa;
        ulong oldEnd = oldIpa + sizeBytes;
        foreach (MemslotSpec slot in SlotSpecs(s, id).ToList())
        {
            if (slot.Ipa == oldIpa)
                slot.Ipa = newIpa;
        }
        foreach (TimelineEvent ev in s.Timeline)
        {
            switch (ev)
            {
                case WorkloadEvent w when !w.L2Guest && w.Pattern != WorkloadPattern.Trace && w.Ipa >= oldIpa && w.Ipa + w.SizeBytes <= oldEnd:
                    w.Ipa += delta;
                    break;
                case AccessEvent a when !a.L2Guest && a.Ipa >= oldIpa && a.Ipa < oldEnd:
                    a.Ipa += delta;
                    break;
            }
        }
    }

    /// <summary>
    /// The start nearest to <paramref name="preferred"/> of a free HVA range of <paramref name="sizeBytes"/> that is
    /// ≡ <paramref name="residue"/> (mod <paramref name="blockBytes"/>), overlaps no mapping but those named in
    /// <paramref name="moving"/>, and ends inside the host's user address space; null when there is none.
    /// </summary>
    public static ulong? PlaceHva(Scenario s, ulong sizeBytes, ulong blockBytes, ulong residue, ulong preferred, IReadOnlyCollection<string> moving)
    {
        var taken = s.Mappings.Where(m => !moving.Contains(m.Name)).Select(m => (m.Start, End: m.Start + m.SizeBytes)).ToList();
        ulong limit = 1UL << s.Host.VaBits;
        return Place(taken, sizeBytes, blockBytes, residue, preferred, s.Host.PageSize.PageSize, limit);
    }

    /// <summary>As <see cref="PlaceHva"/>, for a memslot's IPA range: free of every other slot, below 2^ipa-bits.</summary>
    public static ulong? PlaceIpa(Scenario s, ulong sizeBytes, ulong blockBytes, ulong residue, ulong preferred, int movingSlot)
    {
        var taken = AllSlotSpecs(s).Where(x => x.Id != movingSlot).Select(x => (Start: x.Ipa, End: x.Ipa + x.SizeBytes)).ToList();
        ulong limit = 1UL << s.Vm.IpaBits;
        return Place(taken, sizeBytes, blockBytes, residue, preferred, 0, limit);
    }

    private static ulong? Place(List<(ulong Start, ulong End)> taken, ulong sizeBytes, ulong blockBytes, ulong residue, ulong preferred, ulong lowest, ulong limit)
    {
        if (sizeBytes == 0 || sizeBytes > limit || blockBytes == 0)
            return null;
        residue &= blockBytes - 1;
        // The candidate at or below the preferred address, then the one above it, then a block further each way.
        ulong below = preferred - ((preferred - residue) & (blockBytes - 1));
        for (int step = 0; step <= PlacementSteps; step++)
        {
            ulong offset = (ulong)step * blockBytes;
            if (offset / blockBytes != (ulong)step)
                break;
            if (Fits(below - offset, below >= offset))
                return below - offset;
            if (Fits(below + blockBytes + offset, below <= ulong.MaxValue - blockBytes - offset))
                return below + blockBytes + offset;
        }
        // Above everything that is taken.
        ulong top = Math.Max(lowest, taken.Count == 0 ? 0 : taken.Max(t => t.End));
        ulong start = top + ((residue - top) & (blockBytes - 1));
        return Fits(start, start >= top) ? start : null;

        bool Fits(ulong start, bool inRange)
        {
            if (!inRange || start < lowest || start > limit - sizeBytes)
                return false;
            ulong end = start + sizeBytes;
            foreach ((ulong s0, ulong e0) in taken)
            {
                if (start < e0 && s0 < end)
                    return false;
            }
            return true;
        }
    }
}
