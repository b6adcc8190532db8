using CsCheck;
using Stage2Lab.Arch;
using Stage2Lab.Simulation.Tlb;
using static Stage2Lab.Tests.Tlb.TlbKit;

namespace Stage2Lab.Tests.Tlb;

/// <summary>
/// Random access sequences checked against a plain reference: a dictionary-based fully associative LRU for the
/// 48-entry DTLB over a per-set dictionary LRU for the 256×5 L2 (the N1 shape without walk caches), with random
/// VMALLE1IS invalidations mixed in. Every access's DTLB and L2 outcome must match.
/// </summary>
public class TlbPropertyTests
{
    private const int Iterations = 100;

    /// <summary>Pages drawn from 12 sets × 10 tags: more than 48 pages for the DTLB, more than 5 ways per set.</summary>
    private const int Sets = 12, Tags = 10;

    private const int Flush = -1;

    private static readonly Gen<int[]> Ops =
        Gen.Frequency((1, Gen.Const(Flush)), (150, Gen.Int[0, 2 * Sets * Tags - 1])).Array[1, 1500];

    [Fact]
    public void Dtlb_and_l2_outcomes_match_a_dictionary_lru_reference()
    {
        var pgt = Stage2(40, RamIpa, 16 * M, 2 * M);
        GuestStage1 guest = Guest(RamIpa, 12 * M, GuestMapping.Pages, 40);
        Ops.Sample(ops =>
        {
            var model = new GuestTlbModel(N1WithoutWalkCaches, guest, pgt);
            var reference = new ReferenceTlb(l1Entries: 48, l2Sets: 256, l2Ways: 5);
            for (int i = 0; i < ops.Length; i++)
            {
                if (ops[i] == Flush)
                {
                    model.InvalidateStage1All();
                    reference.Clear();
                    continue;
                }
                int page = ops[i] % (Sets * Tags);
                ulong va = RamIpa + (ulong)(page % Sets + 256 * (page / Sets)) * 4 * K;
                AccessKind kind = ops[i] >= Sets * Tags ? AccessKind.Write : AccessKind.Read;
                TlbCounters before = model.Counters;
                model.OnAccess(va, kind);
                TlbCounters step = model.Counters - before;
                Assert.Null(model.Problems());
                var (l1Hit, l2Hit) = reference.Access(va >> 12);
                string at = $"op {i} (va 0x{va:x})";
                Assert.True(l1Hit == (step.DtbHits == 1), $"{at}: DTLB {(l1Hit ? "hit" : "miss")} expected");
                if (!l1Hit)
                    Assert.True(l2Hit == (step.L2Hits == 1), $"{at}: L2 {(l2Hit ? "hit" : "miss")} expected");
                Assert.Equal(!l1Hit && !l2Hit ? 1 : 0, step[TlbStat.Walks]);
            }
        }, iter: Iterations, print: ops => string.Join(",", ops));
    }

    [Fact]
    public void With_walk_caches_no_walk_reads_more_than_the_formula_and_the_uncached_count_is_exact()
    {
        // One stage-2 leaf size everywhere, so every walk's uncached cost is (4+1)(m+1)-1 with m = 3 (pages,
        // 40-bit IPA) or 2 (2M blocks); walk caches and stage-2 entries only ever remove references.
        foreach (var (s2Leaf, perWalk) in new[] { (4 * K, 19L), (2 * M, 14L) })
        {
            var pgt = Stage2(40, RamIpa, 16 * M, s2Leaf);
            GuestStage1 guest = Guest(RamIpa, 12 * M, GuestMapping.Pages, 40);
            Ops.Sample(ops =>
            {
                var model = new GuestTlbModel(TlbProfiles.NeoverseN1, guest, pgt);
                foreach (int op in ops)
                {
                    if (op == Flush)
                    {
                        model.InvalidateVmid();
                        continue;
                    }
                    int page = op % (Sets * Tags);
                    TlbCounters before = model.Counters;
                    model.OnAccess(RamIpa + (ulong)(page % Sets + 256 * (page / Sets)) * 4 * K, op >= Sets * Tags ? AccessKind.Exec : AccessKind.Read);
                    TlbCounters step = model.Counters - before;
                    Assert.Equal(step[TlbStat.Walks] * perWalk, step[TlbStat.WalkMemRefsWithoutCaches]);
                    Assert.InRange(step[TlbStat.WalkMemRefs], step[TlbStat.Walks], step[TlbStat.WalkMemRefsWithoutCaches]);
                }
            }, iter: Iterations / 2, print: ops => string.Join(",", ops));
        }
    }

    /// <summary>The reference: LRU by "last used" stamps in dictionaries, no cleverness.</summary>
    private sealed class ReferenceTlb(int l1Entries, int l2Sets, int l2Ways)
    {
        private readonly Dictionary<ulong, long> _l1 = new();
        private readonly Dictionary<ulong, long>[] _l2 = Enumerable.Range(0, l2Sets).Select(_ => new Dictionary<ulong, long>()).ToArray();
        private long _time;

        public (bool L1Hit, bool L2Hit) Access(ulong page)
        {
            _time++;
            if (_l1.ContainsKey(page))
            {
                _l1[page] = _time;
                return (true, false);
            }
            Dictionary<ulong, long> set = _l2[(int)(page % (ulong)l2Sets)];
            bool l2Hit = set.ContainsKey(page);
            if (!l2Hit && set.Count == l2Ways)
                set.Remove(set.MinBy(e => e.Value).Key);
            set[page] = _time;
            if (_l1.Count == l1Entries)
                _l1.Remove(_l1.MinBy(e => e.Value).Key);
            _l1[page] = _time;
            return (false, l2Hit);
        }

        public void Clear()
        {
            _l1.Clear();
            foreach (Dictionary<ulong, long> set in _l2)
                set.Clear();
        }
    }
}

/// <summary>
/// The simulator's stage-2 leaf memo must be invisible: with the stage-2 table changing under the guest (maps
/// and unmaps of pages and blocks, each with the TLBIs KVM issues), a model with the memo and one that reads
/// the table at every step count exactly the same, and every array stays internally consistent.
/// </summary>
public class TlbMemoPropertyTests
{
    private enum Op { Access, MapPage, MapBlock, UnmapPage, UnmapBlock }

    private static readonly Gen<(Op Op, int Where, bool Exec)[]> Ops =
        Gen.Select(
            Gen.Frequency((20, Gen.Const(Op.Access)), (2, Gen.Const(Op.MapPage)), (2, Gen.Const(Op.MapBlock)), (1, Gen.Const(Op.UnmapPage)), (1, Gen.Const(Op.UnmapBlock))),
            Gen.Int[0, 8 * 512 - 1], Gen.Bool).Array[1, 600];

    [Fact]
    public void The_stage_2_memo_changes_no_count_while_the_table_changes()
    {
        Ops.Sample(ops =>
        {
            foreach (bool rangeTlbi in new[] { false, true })
            {
                // 16M of IPA at 1G: the guest's 12M and its tables at 1G+12M, initially half 2M blocks, half pages.
                var pgt = Stage2(40, RamIpa, 8 * M, 2 * M, rangeTlbi: rangeTlbi, fwb: rangeTlbi);
                MapLeaves(pgt, RamIpa + 8 * M, 8 * M, 4 * K);
                GuestStage1 guest = Guest(RamIpa, 12 * M, GuestMapping.Pages, 40);
                var memo = new GuestTlbModel(TlbProfiles.NeoverseN1, guest, pgt, memoizeStage2: true);
                var plain = new GuestTlbModel(TlbProfiles.NeoverseN1, guest, pgt, memoizeStage2: false);
                pgt.TlbListener = new Both(memo, plain);
                var cache = Stage2Lab.PageTables.MemoryCache.Unbounded();
                foreach (var (op, where, exec) in ops)
                {
                    ulong page = RamIpa + (ulong)where * 4 * K;
                    ulong block = page & ~(2 * M - 1);
                    switch (op)
                    {
                        case Op.Access:
                            memo.OnAccess(page, exec ? AccessKind.Exec : AccessKind.Read);
                            plain.OnAccess(page, exec ? AccessKind.Exec : AccessKind.Read);
                            break;
                        case Op.MapPage:
                            pgt.Map(page, 4 * K, page | (1UL << 40), Prot.RWX, cache);
                            break;
                        case Op.MapBlock:
                            pgt.Map(block, 2 * M, block | (1UL << 40), Prot.RWX, cache);
                            break;
                        case Op.UnmapPage:
                            pgt.Unmap(page, 4 * K);
                            break;
                        default:
                            pgt.Unmap(block, 2 * M);
                            break;
                    }
                    Assert.Null(memo.Problems());
                    Assert.Null(plain.Problems());
                    TlbCounters a = memo.Counters, b = plain.Counters;
                    foreach (TlbStat stat in TlbStatNames.All)
                        Assert.True(a[stat] == b[stat], $"{stat.Name()}: {a[stat]} with the memo, {b[stat]} without");
                }
            }
        }, iter: 60, print: ops => string.Join(",", ops.Select(o => $"{o.Op}:{o.Where}:{(o.Exec ? "x" : "r")}")));
    }

    private sealed class Both(GuestTlbModel a, GuestTlbModel b) : Stage2Lab.PageTables.ITlbInvalidationListener
    {
        public void InvalidateStage2Ipa(ulong ipa, int levelHint) { a.InvalidateStage2Ipa(ipa, levelHint); b.InvalidateStage2Ipa(ipa, levelHint); }

        public void InvalidateStage2Range(ulong ipa, ulong sizeBytes) { a.InvalidateStage2Range(ipa, sizeBytes); b.InvalidateStage2Range(ipa, sizeBytes); }

        public void InvalidateStage1All() { a.InvalidateStage1All(); b.InvalidateStage1All(); }

        public void InvalidateVmid() { a.InvalidateVmid(); b.InvalidateVmid(); }
    }
}
