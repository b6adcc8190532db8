using Stage2Lab.Arch;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Tlb;
using static Stage2Lab.Tests.Tlb.TlbKit;

namespace Stage2Lab.Tests.Tlb;

/// <summary>
/// The stage-2 TLBIs KVM issues remove exactly the entries they cover. __kvm_tlb_flush_vmid_ipa: IPAS2E1IS (the
/// stage-2 entries for that IPA) then VMALLE1IS (every stage-1 and combined entry); the range form: RIPAS2E1IS
/// then VMALLE1IS; __kvm_tlb_flush_vmid: VMALLS12E1IS (everything).
/// </summary>
public class InvalidationTests
{
    // Two 2M stage-2 blocks, A (data, IPA 1G) and B (the guest's tables, IPA 1G+2M), 40-bit IPA (stage 2 from L1).
    private const ulong BlockA = RamIpa, BlockB = RamIpa + 2 * M;

    private static GuestTlbModel WarmModel(Stage2PageTable pgt)
    {
        var model = new GuestTlbModel(TlbProfiles.NeoverseN1, Guest(RamIpa, 2 * M, GuestMapping.Pages, 40), pgt);
        model.OnAccess(RamIpa, AccessKind.Read);
        model.OnAccess(RamIpa + 4 * K, AccessKind.Exec);
        return model;
    }

    [Fact]
    public void A_warm_model_holds_what_the_walks_filled()
    {
        GuestTlbModel model = WarmModel(Stage2(40, RamIpa, 4 * M, 2 * M));
        Assert.Equal(["va->pa@0x40000000/4K"], EntriesOf(model, "dtb"));
        Assert.Equal(["va->pa@0x40001000/4K"], EntriesOf(model, "itb"));
        Assert.Equal(
        [
            "ipa->pa@0x40000000/2M", "ipa->pa@0x40200000/2M",
            "s1-table@0x0/512G", "s1-table@0x40000000/1G", "s1-table@0x40000000/2M",
            "s2-table@0x40000000/1G",
            "va->pa@0x40000000/4K", "va->pa@0x40001000/4K",
        ], EntriesOf(model, "l2_shared"));
    }

    [Fact]
    public void Unmapping_one_block_removes_its_stage_2_entries_and_every_stage_1_entry_but_not_the_other_block()
    {
        var pgt = Stage2(40, RamIpa, 4 * M, 2 * M);
        GuestTlbModel model = WarmModel(pgt);

        // stage2_unmap_walker: TLBI IPAS2E1IS(A, level 2), then VMALLE1IS.
        Assert.Equal(0, pgt.Unmap(BlockA, 2 * M));

        Assert.Empty(EntriesOf(model, "dtb"));
        Assert.Empty(EntriesOf(model, "itb"));
        // A's IPA->PA entry and the level-1 stage-2 descriptor covering A go; B's block entry stays.
        Assert.Equal(["ipa->pa@0x40200000/2M"], EntriesOf(model, "l2_shared"));
        Assert.Equal(7, model.Counters[TlbStat.L2FlushedEntries]);
        Assert.Equal(1, model.Counters[TlbStat.DtbFlushedEntries]);
        Assert.Equal(1, model.Counters[TlbStat.ItbFlushedEntries]);
    }

    [Fact]
    public void An_ipa_invalidation_alone_leaves_combined_entries_which_is_why_kvm_adds_vmalle1is()
    {
        var pgt = Stage2(40, RamIpa, 4 * M, 2 * M);
        GuestTlbModel model = WarmModel(pgt);

        model.InvalidateStage2Ipa(BlockB + 123, levelHint: 2);

        Assert.Equal(["va->pa@0x40000000/4K"], EntriesOf(model, "dtb"));
        Assert.Equal(
        [
            "ipa->pa@0x40000000/2M",
            "s1-table@0x0/512G", "s1-table@0x40000000/1G", "s1-table@0x40000000/2M",
            "va->pa@0x40000000/4K", "va->pa@0x40001000/4K",
        ], EntriesOf(model, "l2_shared"));
    }

    [Fact]
    public void A_range_invalidation_removes_the_stage_2_entries_it_overlaps()
    {
        // FEAT_TLBIRANGE and FWB: unmap defers to one range invalidation (stage2_unmap_defer_tlb_flush).
        var pgt = Stage2(40, RamIpa, 4 * M, 2 * M, rangeTlbi: true, fwb: true);
        GuestTlbModel model = WarmModel(pgt);

        Assert.Equal(0, pgt.Unmap(BlockB, 2 * M));

        Assert.Equal(["ipa->pa@0x40000000/2M"], EntriesOf(model, "l2_shared"));
        Assert.Empty(EntriesOf(model, "dtb"));
    }

    [Fact]
    public void Replacing_a_table_by_a_block_without_range_tlbi_flushes_the_whole_vmid()
    {
        // Pages over A, then a 2M map over them: the table is replaced (stage2_try_break_pte on a table:
        // kvm_tlb_flush_vmid_range, which without FEAT_TLBIRANGE is __kvm_tlb_flush_vmid: VMALLS12E1IS).
        var pgt = Stage2(40, RamIpa, 2 * M, 4 * K);
        MapLeaves(pgt, BlockB, 2 * M, 2 * M);
        GuestTlbModel model = WarmModel(pgt);
        Assert.NotEmpty(EntriesOf(model, "l2_shared"));

        MapLeaves(pgt, BlockA, 2 * M, 2 * M);

        Assert.Empty(model.Entries());
        Assert.Equal(1, pgt.Counters[Stage2Counter.TlbiVmalls12e1is]);
    }

    [Fact]
    public void Relaxing_permissions_invalidates_locally_with_the_leaf_level()
    {
        var pgt = new Stage2PageTable(Granule.Size4K, 40, CpuFeatures.Default);
        var cache = MemoryCache.Unbounded();
        Assert.Equal(0, pgt.Map(BlockA, 2 * M, 1UL << 40, Prot.R, cache));
        Assert.Equal(0, pgt.Map(BlockB, 2 * M, (1UL << 40) + 2 * M, Prot.RW, cache));
        GuestTlbModel model = WarmModel(pgt);
        var seen = new RecordingListener();
        pgt.TlbListener = seen;

        Assert.Equal(0, pgt.RelaxPerms(BlockA + 8 * K, Prot.RW));

        // __kvm_tlb_flush_vmid_ipa_nsh: TLBI IPAS2E1 with the level of the leaf, then VMALLE1.
        Assert.Equal(["ipa 0x40002000 level 2", "stage1 all"], seen.Calls);
        pgt.TlbListener = model;
        model.InvalidateStage2Ipa(BlockA + 8 * K, 2);
        model.InvalidateStage1All();
        Assert.Equal(["ipa->pa@0x40200000/2M"], EntriesOf(model, "l2_shared"));
    }

    [Fact]
    public void After_an_invalidation_the_next_access_walks_again()
    {
        var pgt = Stage2(40, RamIpa, 4 * M, 2 * M);
        GuestTlbModel model = WarmModel(pgt);
        TlbCounters before = model.Counters;
        model.OnAccess(RamIpa, AccessKind.Read);
        Assert.Equal(0, (model.Counters - before)[TlbStat.Walks]);

        pgt.Unmap(BlockA, 2 * M);
        MapLeaves(pgt, BlockA, 2 * M, 2 * M);
        before = model.Counters;
        model.OnAccess(RamIpa, AccessKind.Read);
        Assert.Equal(1, (model.Counters - before)[TlbStat.Walks]);
    }

    [Fact]
    public void Invalidations_on_an_empty_model_remove_nothing_and_cost_nothing_per_entry()
    {
        var pgt = Stage2(40, RamIpa, 4 * M, 4 * K);
        var model = new GuestTlbModel(TlbProfiles.NeoverseN1, Guest(RamIpa, 2 * M, GuestMapping.Pages, 40), pgt);
        Assert.Equal(0, pgt.Unmap(RamIpa, 4 * M));

        // One IPAS2E1IS per leaf and per freed table, each followed by VMALLE1IS: two L2 invalidations apiece.
        Stage2Counters tlbis = pgt.Counters;
        long byIpa = tlbis[Stage2Counter.TlbiIpas2e1isL3] + tlbis[Stage2Counter.TlbiIpas2e1isNoHint];
        Assert.True(byIpa > 1024, $"{byIpa} IPA invalidations");
        Assert.Equal(2 * byIpa, model.Counters[TlbStat.L2FlushTlb]);
        Assert.Equal(byIpa, model.Counters[TlbStat.DtbFlushTlb]);
        Assert.Equal(0, model.Counters[TlbStat.L2FlushedEntries]);
    }

    [Fact]
    public void Detaching_stops_the_model_from_listening()
    {
        var pgt = Stage2(40, RamIpa, 4 * M, 2 * M);
        GuestTlbModel model = WarmModel(pgt);
        model.Detach();
        Assert.Null(pgt.TlbListener);
        pgt.Unmap(BlockA, 2 * M);
        Assert.NotEmpty(EntriesOf(model, "dtb"));
    }

    private sealed class RecordingListener : ITlbInvalidationListener
    {
        public List<string> Calls { get; } = [];

        public void InvalidateStage2Ipa(ulong ipa, int levelHint) => Calls.Add($"ipa 0x{ipa:x} level {levelHint}");

        public void InvalidateStage2Range(ulong ipa, ulong sizeBytes) => Calls.Add($"range 0x{ipa:x} +0x{sizeBytes:x}");

        public void InvalidateStage1All() => Calls.Add("stage1 all");

        public void InvalidateVmid() => Calls.Add("vmid");
    }
}
