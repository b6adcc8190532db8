using Stage2Lab.Arch;
using Stage2Lab.Simulation.Tlb;

namespace Stage2Lab.Simulation.Scenarios;

/// <summary>
/// The scenario's <c>guest:</c> section: the guest's own stage 1 (docs/scenario-format.md). Without regions the
/// guest maps every memslot's IPA range at VA = IPA with <see cref="Mapping"/> leaves (pages by default: a guest
/// without THP); a scenario without the section gets <c>new GuestSpec()</c>.
/// </summary>
public sealed class GuestSpec
{
    public Granule Granule { get; set; } = Granule.Size4K;

    public int VaBits { get; set; } = 48;

    /// <summary>The leaves of the identity regions built when <see cref="Regions"/> is empty.</summary>
    public GuestMapping Mapping { get; set; } = GuestMapping.Pages;

    /// <summary>Where the guest's stage-1 tables live; null: at the first region's IPA.</summary>
    public ulong? TablesIpa { get; set; }

    public List<GuestRegion> Regions { get; } = new();

    public SourceSpan Where { get; set; }

    /// <summary>The guest stage 1 this section describes, for a VM of <paramref name="ipaBits"/> whose memslots
    /// cover <paramref name="memslotRanges"/>; <see cref="ArgumentException"/> when it is not valid.</summary>
    public GuestStage1 Build(int ipaBits, IEnumerable<(ulong Ipa, ulong SizeBytes)> memslotRanges) =>
        Regions.Count > 0
            ? GuestStage1.Create(Granule, VaBits, Regions, TablesIpa ?? Regions[0].Ipa, ipaBits)
            : GuestStage1.Identity(Granule, VaBits, memslotRanges, ipaBits, Mapping, TablesIpa);

    /// <summary>Every IPA range a memslot of the scenario ever covers: the initial slots, slots created in the
    /// timeline, and where moved slots go (in scenario order, duplicates dropped).</summary>
    public static List<(ulong Ipa, ulong SizeBytes)> MemslotRanges(Scenario s)
    {
        var ranges = new List<(ulong, ulong)>();
        var sizes = new Dictionary<int, ulong>();
        foreach (MemslotSpec slot in s.Memslots)
            Add(slot.Id, slot.Ipa, slot.SizeBytes);
        foreach (TimelineEvent ev in s.Timeline)
        {
            if (ev is SlotCreateEvent c)
                Add(c.Slot.Id, c.Slot.Ipa, c.Slot.SizeBytes);
            else if (ev is SlotMoveEvent m && sizes.TryGetValue(m.SlotId, out ulong size))
                Add(m.SlotId, m.Ipa, size);
        }
        return ranges;

        void Add(int id, ulong ipa, ulong size)
        {
            sizes[id] = size;
            if (size != 0 && !ranges.Contains((ipa, size)) && !ranges.Exists(r => ipa < r.Item1 + r.Item2 && r.Item1 < ipa + size))
                ranges.Add((ipa, size));
        }
    }
}
