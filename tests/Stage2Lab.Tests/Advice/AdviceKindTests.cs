using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Simulation.Advice;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Tests.Advice;

/// <summary>
/// Each kind of change, on a scenario where it lifts the binding constraint: the suggestion is there, the numbers
/// of the change are the ones the kernel's checks need, and the "after" run shows the larger mappings.
/// </summary>
public class AdviceKindTests
{
    private const ulong G = 1UL << 30;
    private const ulong M = 1UL << 20;

    private static readonly Lazy<AdviceResult> Gpu = new(() =>
        AdviceKit.Advise(ScenarioReader.Load(Path.Combine(RepoPaths.Examples, "gpu-32g-bar-unaligned.yaml")), "v6.18"));

    [Fact]
    public void Align_hva_moves_the_unaligned_bar_mmap_so_that_hva_agrees_with_pa_and_the_bar_gets_1g_blocks()
    {
        Suggestion s = AdviceKit.Only(Gpu.Value, ChangeKind.AlignHva);
        var change = Assert.IsType<AlignHvaChange>(s.Change);
        Assert.Equal(AlignReference.Pa, change.Against);
        Assert.Equal(G, change.BlockBytes);
        Assert.Equal(0x7f10_0020_1000UL, change.OldStart);
        Assert.Equal(0UL, change.NewStart % G); // the BAR's PA 0x80_0000_0000 is 1G-aligned
        Assert.Equal(32, s.After.Leaves[1]);    // 32 GiB of 1G blocks
        Assert.Equal(0, s.After.Leaves[3]);
        Assert.Equal(197_689, s.Before.Leaves[3]);
        Assert.True(s.After.TableBytes < s.Before.TableBytes);
        Assert.Equal(Gpu.Value.Suggestions[0], s); // it saves the most
    }

    [Fact]
    public void Align_hva_fixes_ram_whose_hva_is_off_its_ipa_by_1m()
    {
        AdviceResult r = AdviceKit.Advise(AdviceKit.MisalignedRam);
        Suggestion s = AdviceKit.Only(r, ChangeKind.AlignHva);
        var hva = Assert.IsType<AlignHvaChange>(s.Change);
        Assert.Equal(AlignReference.Ipa, hva.Against);
        Assert.Equal(0x4000_0000UL % G, hva.NewStart % G);
        Assert.Equal(16_384, s.Before.Leaves[3]);
        Assert.Equal(0, s.After.Leaves[3]);
        Assert.Equal(512, s.After.Leaves[2]); // 1G of THP-backed 2M blocks
        Assert.Equal(s.Before.Accesses, s.After.Accesses);
    }

    [Fact]
    public void Align_ipa_places_a_bar_slot_on_a_block_boundary_and_moves_the_guests_accesses_with_it()
    {
        AdviceResult r = AdviceKit.Advise(AdviceKit.MisplacedBarSlot);
        Suggestion s = AdviceKit.Only(r, ChangeKind.AlignIpa);
        var change = Assert.IsType<AlignIpaChange>(s.Change);
        Assert.Equal(0x80_0010_0000UL, change.OldIpa);
        Assert.Equal(0x80_0000_0000UL, change.NewIpa);
        Assert.Equal(1, s.After.Leaves[1]);
        Assert.Equal(0, s.After.MmioExits);
        Assert.DoesNotContain(r.Suggestions, x => x.Change.Kind == ChangeKind.AlignHva); // HVA ≡ PA already
    }

    [Fact]
    public void Align_ipa_gives_hugetlb_ram_its_1g_blocks_where_moving_the_hugetlbfs_mapping_cannot()
    {
        AdviceResult r = AdviceKit.Advise(AdviceKit.HugetlbRamSlotOffIpa);
        Suggestion s = AdviceKit.Only(r, ChangeKind.AlignIpa);
        Assert.Equal(0x4000_0000UL, Assert.IsType<AlignIpaChange>(s.Change).NewIpa);
        Assert.Equal(1024, s.Before.Leaves[2]);
        Assert.Equal(2, s.After.Leaves[1]);
        // A hugetlbfs mapping starts on a huge page: moving it 2M is refused by the host, so it is not shown.
        TriedChange hva = Assert.Single(r.NotShown, t => t.Change.Kind == ChangeKind.AlignHva);
        Assert.Equal(NotShownReason.CannotBeMade, hva.Reason);
        Assert.Contains("multiples of 1G", hva.Detail);
    }

    [Fact]
    public void Resize_slot_grows_a_ragged_slot_to_the_next_2m_boundary()
    {
        AdviceResult r = AdviceKit.Advise(AdviceKit.RaggedRamSlot);
        Suggestion s = AdviceKit.Only(r, ChangeKind.ResizeSlot);
        var change = Assert.IsType<ResizeSlotChange>(s.Change);
        Assert.Equal(1025 * M, change.OldSizeBytes);
        Assert.Equal(1026 * M, change.NewSizeBytes);
        Assert.Equal(M, change.GrowthBytes);
        Assert.Equal(256, s.Before.Faults); // the tail's pages one by one
        Assert.Equal(1, s.After.Faults);    // one 2M block
    }

    [Fact]
    public void Split_slot_stops_logging_the_framebuffer_part_of_a_logged_slot()
    {
        AdviceResult r = AdviceKit.Advise(AdviceKit.LoggedRamAndFramebuffer);
        Suggestion s = AdviceKit.Only(r, ChangeKind.SplitSlot);
        var change = Assert.IsType<SplitSlotChange>(s.Change);
        Assert.Equal("vram", change.Unlogged);
        Assert.Equal([(0, true), (1, false)], change.Pieces.Select(p => (p.Id, p.Logged)));
        Assert.Equal(32, s.After.Leaves[2]); // the framebuffer's 64M as 2M blocks
        Assert.True(s.After.Faults < s.Before.Faults);
    }

    [Fact]
    public void Thp_and_hugetlb_are_proposed_for_ram_without_thp_with_numbers()
    {
        AdviceResult r = AdviceKit.Advise(AdviceKit.RamWithoutThp);
        foreach (string policy in new[] { "v5.13", "v6.18" })
        {
            Suggestion thp = Assert.Single(r.Suggestions, s => s.Change.Kind == ChangeKind.Thp && s.Policy == policy);
            var change = Assert.IsType<ThpChange>(thp.Change);
            Assert.Equal(ThpMode.Never, change.HostBefore);
            Assert.Equal(ThpMode.Madvise, change.HostAfter);
            Assert.Equal(131_072, thp.Before.Faults);
            Assert.Equal(256, thp.After.Faults);
            Assert.Equal(256, thp.After.Leaves[2]);
            Assert.True(thp.SavedNs > 0);
            Assert.Contains(r.Suggestions, s => s.Change is HugetlbChange { HugePageBytes: 2UL << 20 } && s.Policy == policy);
        }
    }

    [Fact]
    public void Hugetlb_1g_is_proposed_for_thp_backed_ram_which_thp_caps_at_2m()
    {
        Suggestion s = AdviceKit.Only(Gpu.Value, ChangeKind.Hugetlb);
        var change = Assert.IsType<HugetlbChange>(s.Change);
        Assert.Equal(G, change.HugePageBytes);
        Assert.Equal("guest-ram", change.MappingName);
        Assert.Equal(16, s.After.Leaves[1]);
        Assert.Equal(8_192, s.Before.Leaves[2]);
    }

    [Fact]
    public void Host_huge_pfnmap_gives_host_pte_2m_blocks()
    {
        AdviceResult r = AdviceKit.Advise(AdviceKit.HostPteBar);
        Suggestion s = AdviceKit.Only(r, ChangeKind.HostHugePfnmap);
        Assert.Equal("bar", Assert.IsType<HostHugePfnmapChange>(s.Change).MappingName);
        Assert.Equal(512, s.After.Leaves[2]);
        Assert.Equal(0, s.After.Leaves[3]);
    }

    [Fact]
    public void Granule_64k_maps_a_v5_13_bar_with_16_times_fewer_pages()
    {
        AdviceResult r = AdviceKit.Advise(AdviceKit.BarUnderV513);
        Suggestion s = Assert.Single(r.Suggestions, x => x.Change is GranuleChange { To.PageShift: 16 });
        Assert.Equal(Granule.Size64K, s.After.Granule);
        Assert.Equal(262_144, s.Before.Leaves[3]);
        Assert.Equal(16_384, s.After.Leaves[3]);
        Assert.Equal(s.Before.Accesses, s.After.Accesses);
        Assert.Equal(r.Suggestions[0], s); // 64K saves more than 16K
    }

    [Fact]
    public void No_dirty_logging_is_proposed_for_a_logged_slot_under_6_18_and_7_4()
    {
        AdviceResult r = AdviceKit.Advise(AdviceKit.LoggedRam);
        foreach (string policy in new[] { "v6.18", "v7.4" })
        {
            Suggestion s = Assert.Single(r.Suggestions, x => x.Change.Kind == ChangeKind.NoDirtyLogging && x.Policy == policy);
            Assert.Equal(2, Assert.IsType<NoDirtyLoggingChange>(s.Change).EventsDropped);
            Assert.Equal(65_536, s.Before.Leaves[3]);
            Assert.Equal(128, s.After.Leaves[2]);
        }
    }

    [Fact]
    public void A_change_that_saves_nothing_is_not_shown()
    {
        // Blocks would clean 2M to PoC for every 64K the guest touches: THP and hugetlbfs cost more than pages here.
        AdviceResult r = AdviceKit.Advise(AdviceKit.SparselyTouchedRamWithoutThp);
        Assert.DoesNotContain(r.Suggestions, s => s.Change.Kind is ChangeKind.Thp or ChangeKind.Hugetlb);
        TriedChange thp = Assert.Single(r.NotShown, t => t.Change.Kind == ChangeKind.Thp);
        Assert.Equal(NotShownReason.SavesNothing, thp.Reason);
        Assert.NotNull(thp.After);
        Assert.True(thp.After!.EstimatedNs >= AdviceKit.Advise(AdviceKit.SparselyTouchedRamWithoutThp).Baselines[0].TotalEstimatedNs);
    }

    [Fact]
    public void A_change_that_cannot_be_made_is_not_shown_and_says_why()
    {
        // The BAR's mmap is only 4K-aligned: a 16K or 64K host cannot map it.
        AdviceResult r = AdviceKit.Advise(AdviceKit.BarUnderV513.Replace("start: 0x7000_0000_0000", "start: 0x7000_0000_1000", StringComparison.Ordinal));
        TriedChange t = Assert.Single(r.NotShown, x => x.Change is GranuleChange { To.PageShift: 16 });
        Assert.Equal(NotShownReason.CannotBeMade, t.Reason);
        Assert.Contains("not aligned to the 64K page size", t.Detail);
        Assert.Empty(r.Suggestions);
    }

    [Fact]
    public void Suggestions_are_ranked_by_time_saved_and_every_one_saves_time()
    {
        AdviceResult r = Gpu.Value;
        Assert.NotEmpty(r.Suggestions);
        Assert.All(r.Suggestions, s => Assert.True(s.SavedNs >= 1));
        Assert.Equal(r.Suggestions.OrderByDescending(s => Math.Round(s.SavedNs)).Select(s => s.SavedNs), r.Suggestions.Select(s => s.SavedNs));
    }

    [Fact]
    public void Metrics_that_show_more_mmio_exits_failures_or_refusals_do_not_keep_the_vms_behaviour()
    {
        var before = new RunMetrics(Granule.Size4K, 10, 2, 0, 0, 0, 100, [0, 0, 0, 10], 4096, 0, 0, 1000, 0);
        Assert.True((before with { Faults = 1, HostEstimatedNs = 10 }).KeepsBehaviourOf(before));
        Assert.True((before with { MmioExits = 1 }).KeepsBehaviourOf(before));
        Assert.False((before with { MmioExits = 3 }).KeepsBehaviourOf(before));
        Assert.False((before with { Errors = 1 }).KeepsBehaviourOf(before));
        Assert.False((before with { Injected = 1 }).KeepsBehaviourOf(before));
        Assert.False((before with { Refusals = 1 }).KeepsBehaviourOf(before));
        Assert.False((before with { Accesses = 99 }).KeepsBehaviourOf(before));
    }
}
