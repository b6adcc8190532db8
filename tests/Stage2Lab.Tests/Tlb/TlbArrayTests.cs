using CsCheck;
using Stage2Lab.Simulation.Tlb;

namespace Stage2Lab.Tests.Tlb;

/// <summary>
/// <see cref="TlbArray"/>'s packed recency order and vector set search against a plain list per set (most recent
/// first): under random lookups, inserts and removals, with every way count it supports (1 to 15: one and two
/// cache lines per set), the same entries are held and the same ones hit.
/// </summary>
public class TlbArrayTests
{
    private static readonly Gen<(int Ways, (int Op, int Block, int Kind)[] Ops)> Cases =
        Gen.Int[1, TlbArray.MaxWays].SelectMany(ways =>
            Gen.Select(Gen.Int[0, 9], Gen.Int[0, 63], Gen.Int[0, 1]).Array[1, 400].Select(ops => (ways, ops)));

    [Fact]
    public void Holds_and_hits_exactly_what_a_plain_lru_list_per_set_does()
    {
        Cases.Sample(c => Check(c.Ways, c.Ops), iter: 300,
            print: c => $"{c.Ways} ways: " + string.Join(",", c.Ops.Select(o => $"{o.Op}:{o.Block}:{o.Kind}")));
    }

    private static void Check(int ways, (int Op, int Block, int Kind)[] ops)
    {
        const int sets = 2;
        const int shift = 12;
        var array = new TlbArray(sets * ways, ways);
        var lists = new List<ulong>[sets];
        for (int s = 0; s < sets; s++)
            lists[s] = [];
        for (int i = 0; i < ops.Length; i++)
        {
            var (op, block, k) = ops[i];
            var kind = (TlbEntryKind)k;
            ulong address = (ulong)block << shift;
            ulong tag = TlbArray.Tag(address, kind, shift);
            List<ulong> set = lists[block % sets];
            string where = $"{ways} ways, op {i} ({op}:{block}:{k})";
            if (op < 4)
            {
                bool expected = set.Remove(tag);
                if (expected)
                    set.Insert(0, tag);
                Assert.True(expected == array.Lookup(address, kind, shift), where);
            }
            else if (op < 9)
            {
                if (!set.Remove(tag) && set.Count == ways)
                    set.RemoveAt(set.Count - 1);
                set.Insert(0, tag);
                array.Insert(address, kind, shift);
            }
            else
            {
                bool held = set.Remove(tag);
                Assert.True((held ? 1 : 0) == array.RemoveCovering(address, 1 << k), where);
            }
            Assert.Null(array.Problems());
            var expectedEntries = lists.SelectMany(l => l).Order().ToList();
            var actualEntries = array.Entries().Select(e => TlbArray.Tag(e.Start, e.Kind, e.Shift)).Order().ToList();
            Assert.True(expectedEntries.SequenceEqual(actualEntries), where);
        }
    }

    [Fact]
    public void More_ways_than_the_recency_order_holds_are_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new TlbArray(16, 16));
        Assert.Contains("at most 15", e.Message);
    }
}
