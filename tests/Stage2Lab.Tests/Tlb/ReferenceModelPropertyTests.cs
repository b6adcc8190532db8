using CsCheck;
using Stage2Lab.Arch;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Tlb;
using static Stage2Lab.Tests.Tlb.TlbKit;

namespace Stage2Lab.Tests.Tlb;

/// <summary>
/// <see cref="GuestTlbModel"/> (index hashes, set scans, stage-2 memos, per-walk shortcuts) against the plain
/// <see cref="ReferenceTlbModel"/>: random streams of guest accesses of every kind over regions of pages,
/// contiguous pages, 2M and 1G leaves (and outside them), IPAs two regions share, mixed with stage-2 maps and unmaps of pages and blocks
/// (each with the TLBIs KVM issues) and direct VMALLE1IS / VMALLS12E1IS. Every counter must agree after every step.
/// </summary>
public class ReferenceModelPropertyTests
{
    private enum Op { Access, AccessIpa, MapPage, MapBlock, UnmapPage, UnmapBlock, Stage1Flush, VmidFlush }

    private static readonly Gen<(Op Op, int Where, int Kind)[]> Ops =
        Gen.Select(
            Gen.Frequency(
                (30, Gen.Const(Op.Access)), (10, Gen.Const(Op.AccessIpa)), (2, Gen.Const(Op.MapPage)), (2, Gen.Const(Op.MapBlock)),
                (1, Gen.Const(Op.UnmapPage)), (1, Gen.Const(Op.UnmapBlock)), (1, Gen.Const(Op.Stage1Flush)), (1, Gen.Const(Op.VmidFlush))),
            Gen.Int[0, 16 * 512 - 1], Gen.Int[0, 2]).Array[1, 700];

    /// <summary>Profiles that exercise every path: the N1 (walk caches, stage-2 blocks in the L2, L1 size limits),
    /// the teaching one (no caches, every size) and a tiny N1 (2-set L2, 4-entry L1s) that evicts all the time.</summary>
    private static readonly TlbProfile[] Profiles =
    [
        TlbProfiles.NeoverseN1,
        TlbProfiles.Simple,
        TlbProfiles.NeoverseN1 with
        {
            Name = "tiny-n1",
            L1Instruction = TlbProfiles.NeoverseN1.L1Instruction with { Entries = 4, Ways = 4 },
            L1Data = TlbProfiles.NeoverseN1.L1Data with { Entries = 4, Ways = 4 },
            L2 = TlbProfiles.NeoverseN1.L2 with { Entries = 10 },
        },
    ];

    [Fact]
    public void Every_counter_matches_the_plain_reference_under_random_accesses_maps_unmaps_and_flushes()
    {
        Ops.Sample(ops =>
        {
            foreach (TlbProfile profile in Profiles)
            {
                foreach (bool rangeTlbi in new[] { false, true })
                    Check(profile, rangeTlbi, ops);
            }
        }, iter: 40, print: ops => string.Join(",", ops.Select(o => $"{o.Op}:{o.Where}:{o.Kind}")));
    }

    private static void Check(TlbProfile profile, bool rangeTlbi, (Op Op, int Where, int Kind)[] ops)
    {
        // 32M of IPA at 1G, half 2M blocks and half pages to start with, the guest's tables at 1G+30M.
        var pgt = Stage2(40, RamIpa, 16 * M, 2 * M, rangeTlbi: rangeTlbi, fwb: rangeTlbi);
        MapLeaves(pgt, RamIpa + 16 * M, 14 * M, 4 * K);
        GuestStage1 guest = GuestStage1.Create(Granule.Size4K, 48,
        [
            new GuestRegion("pages", RamIpa, RamIpa, 8 * M, GuestMapping.Pages),
            new GuestRegion("cont", 0x2_0000_0000, RamIpa + 8 * M, 4 * M, GuestMapping.Contiguous),
            new GuestRegion("thp", 0xffff_8000_0000_0000, RamIpa + 12 * M, 16 * M, GuestMapping.Thp),
            new GuestRegion("1G", 0x80_0000_0000, 0x80_0000_0000, G, GuestMapping.Block1G),
            // Shares 24M..28M with "thp" (listed first, so it answers there) and alone maps 28M..32M: IPA accesses
            // alternate between the two, so a remembered region must never answer an IPA an earlier one holds.
            new GuestRegion("alias", 0x3_0000_0000, RamIpa + 24 * M, 8 * M, GuestMapping.Pages),
        ], RamIpa + 30 * M, 40);
        var model = new GuestTlbModel(profile, guest, pgt);
        var reference = new ReferenceTlbModel(profile, guest, pgt);
        pgt.TlbListener = new Both(model, reference);
        MemoryCache cache = MemoryCache.Unbounded();
        for (int i = 0; i < ops.Length; i++)
        {
            var (op, where, k) = ops[i];
            AccessKind kind = (AccessKind)k;
            ulong ipa = RamIpa + (ulong)where * 4 * K;
            ulong block = ipa & ~(2 * M - 1);
            switch (op)
            {
                case Op.Access:
                    // Spread over the four regions' VAs (and a little past each).
                    ulong offset = (ulong)where * 4 * K + (ulong)(where % 7) * 8;
                    ulong va = (where % 4) switch
                    {
                        0 => RamIpa + offset % (9 * M),
                        1 => 0x2_0000_0000 + offset % (5 * M),
                        2 => 0xffff_8000_0000_0000 + offset,
                        _ => 0x80_0000_0000 + offset * 31,
                    };
                    model.OnAccess(va, kind);
                    reference.OnAccess(va, kind);
                    break;
                case Op.AccessIpa:
                    model.OnAccessIpa(ipa + 8, kind);
                    reference.OnAccessIpa(ipa + 8, kind);
                    break;
                case Op.MapPage:
                    pgt.Map(ipa, 4 * K, ipa | (1UL << 40), Prot.RWX, cache);
                    break;
                case Op.MapBlock:
                    pgt.Map(block, 2 * M, block | (1UL << 40), Prot.RWX, cache);
                    break;
                case Op.UnmapPage:
                    pgt.Unmap(ipa, 4 * K);
                    break;
                case Op.UnmapBlock:
                    pgt.Unmap(block, 2 * M);
                    break;
                case Op.Stage1Flush:
                    model.InvalidateStage1All();
                    reference.InvalidateStage1All();
                    break;
                default:
                    model.InvalidateVmid();
                    reference.InvalidateVmid();
                    break;
            }
            Assert.Null(model.Problems());
            TlbCounters a = model.Counters, b = reference.Counters;
            foreach (TlbStat stat in TlbStatNames.All)
                Assert.True(a[stat] == b[stat], $"{profile.Name}, range TLBI {rangeTlbi}, op {i} ({op}:{where}:{k}): {stat.Name()} {a[stat]}, reference {b[stat]}");
        }
    }

    private sealed class Both(GuestTlbModel a, ReferenceTlbModel b) : ITlbInvalidationListener
    {
        public void InvalidateStage2Ipa(ulong ipa, int levelHint) { a.InvalidateStage2Ipa(ipa, levelHint); b.InvalidateStage2Ipa(ipa, levelHint); }

        public void InvalidateStage2Range(ulong ipa, ulong sizeBytes) { a.InvalidateStage2Range(ipa, sizeBytes); b.InvalidateStage2Range(ipa, sizeBytes); }

        public void InvalidateStage1All() { a.InvalidateStage1All(); b.InvalidateStage1All(); }

        public void InvalidateVmid() { a.InvalidateVmid(); b.InvalidateVmid(); }
    }
}
