using CsCheck;
using Stage2Lab.Arch;
using Stage2Lab.PageTables;

namespace Stage2Lab.Tests.PageTables;

/// <summary>
/// Stage2HitMemo.CountHits (a run of hits probed in one loop) answers every access as Hits, called once per
/// access, does: the same hits and misses in the same places, through windows of misses that make the memo rest,
/// table changes that make it forget, permission misses and leaves of another size.
/// </summary>
public class HitMemoBatchTests
{
    private const ulong M = 1UL << 20;
    private const ulong G = 1UL << 30;
    private const ulong RamIpa = G;

    [Fact]
    public void A_run_of_hits_counted_at_once_is_what_one_probe_per_access_finds()
    {
        // Hot accesses: a few 2M blocks (hits once remembered); read-only 4K pages (writes miss); accesses spread
        // over 8 GiB (misses: a window of them makes the memo rest for 8,192 accesses).
        Gen<(ulong Ipa, AccessKind Kind)> hot = Gen.Select(Gen.ULong[0, 7], Gen.ULong[0, 2 * M - 1], Gen.Int[0, 2])
            .Select((b, o, k) => (RamIpa + b * 2 * M + o, (AccessKind)k));
        Gen<(ulong Ipa, AccessKind Kind)> pages = Gen.Select(Gen.ULong[0, 2 * M - 1], Gen.Int[0, 2])
            .Select((o, k) => (RamIpa + 16 * M + o, (AccessKind)k));
        Gen<(ulong Ipa, AccessKind Kind)> spread = Gen.Select(Gen.ULong[0, 8 * G - 1], Gen.Int[0, 2])
            .Select((o, k) => (RamIpa + o, (AccessKind)k));
        Gen<(ulong Ipa, AccessKind Kind)> mixed = Gen.Frequency((8, hot), (1, pages), (2, spread));
        // Accesses in stretches of one kind (a few to thousands long); between stretches, maybe a table change.
        Gen<(ulong Ipa, AccessKind Kind)[]> stretch = Gen.OneOf(
            mixed.Array[1, 40], mixed.Array[200, 3000], hot.Array[200, 6000], spread.Array[200, 3000], pages.Array[1, 600]);
        Gen.Select(stretch.Array[1, 16], Gen.Bool.Array[16]).Sample((stretches, changes) =>
        {
            List<bool> one = Play(stretches, changes, batch: false);
            List<bool> batched = Play(stretches, changes, batch: true);
            Assert.Equal(one, batched);
        }, iter: 60);
    }

    [Fact]
    public void Hits_in_a_remembered_block_are_counted_in_one_call_until_the_first_miss()
    {
        Stage2PageTable pgt = Table();
        var memo = new Stage2HitMemo(pgt);
        memo.Remember(RamIpa, pgt.Translate(RamIpa, AccessKind.Read));
        ulong[] ipas = [RamIpa + 8, RamIpa + 4096, RamIpa + 2 * M - 8, RamIpa + 2 * M, RamIpa];
        AccessKind[] kinds = [AccessKind.Read, AccessKind.Write, AccessKind.Exec, AccessKind.Read, AccessKind.Read];
        // The fourth is in the next block, not remembered yet: three hits, then it must walk.
        Assert.Equal(3, memo.CountHits(ipas, kinds));
        Assert.Equal(0, memo.CountHits([], []));
    }

    /// <summary>Every access's answer from the memo (true: a hit it remembers), a miss remembering the leaf the
    /// walk finds, as the VM does; after stretch k, when changes[k], a block is mapped (the table's generation
    /// moves on and the memo must forget).</summary>
    private static List<bool> Play((ulong Ipa, AccessKind Kind)[][] stretches, bool[] changes, bool batch)
    {
        Stage2PageTable pgt = Table();
        var memo = new Stage2HitMemo(pgt);
        var answers = new List<bool>();
        for (int k = 0; k < stretches.Length; k++)
        {
            ulong[] ipas = [.. stretches[k].Select(a => a.Ipa)];
            AccessKind[] kinds = [.. stretches[k].Select(a => a.Kind)];
            int i = 0;
            while (i < ipas.Length)
            {
                if (batch)
                {
                    int hits = memo.CountHits(ipas.AsSpan(i), kinds.AsSpan(i));
                    answers.AddRange(Enumerable.Repeat(true, hits));
                    i += hits;
                    if (i == ipas.Length)
                        break;
                }
                else if (memo.Hits(ipas[i], kinds[i]))
                {
                    answers.Add(true);
                    i++;
                    continue;
                }
                answers.Add(false);
                Translation t = pgt.Translate(ipas[i], kinds[i]);
                if (t.IsMapped)
                    memo.Remember(ipas[i], t);
                i++;
            }
            if (changes[k])
                Assert.Equal(0, pgt.Map(RamIpa + (ulong)(32 + k) * 2 * M, 2 * M, (1UL << 40) + (ulong)k * 2 * M, Prot.RW, MemoryCache.Unbounded()));
        }
        return answers;
    }

    /// <summary>Eight 2M read-write blocks at RamIpa, and 2M of read-only 4K pages 16 MiB above.</summary>
    private static Stage2PageTable Table()
    {
        var pgt = new Stage2PageTable(Granule.Size4K, 40, CpuFeatures.Default);
        MemoryCache cache = MemoryCache.Unbounded();
        Assert.Equal(0, pgt.Map(RamIpa, 16 * M, 1UL << 40, Prot.RWX, cache));
        for (ulong page = 0; page < 2 * M; page += 4096)
            Assert.Equal(0, pgt.Map(RamIpa + 16 * M + page, 4096, (1UL << 41) + page, Prot.R, cache));
        return pgt;
    }
}
