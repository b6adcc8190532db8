using Stage2Lab.Arch;
using Stage2Lab.Host;

namespace Stage2Lab.Tests.Host;

public class SortedStartsTests
{
    /// <summary>What the lookups used before: Array.BinarySearch, then the index before the insertion point.</summary>
    private static int Reference(ulong[] starts, ulong key)
    {
        int i = Array.BinarySearch(starts, key);
        return i >= 0 ? i : ~i - 1;
    }

    [Fact]
    public void Empty_and_single_element_arrays()
    {
        Assert.Equal(-1, SortedStarts.LastAtOrBelow([], 5));
        Assert.Equal(-1, SortedStarts.LastAtOrBelow([10], 9));
        Assert.Equal(0, SortedStarts.LastAtOrBelow([10], 10));
        Assert.Equal(0, SortedStarts.LastAtOrBelow([10], ulong.MaxValue));
        Assert.Equal(0, SortedStarts.LastAtOrBelow([0], 0));
    }

    [Fact]
    public void Agrees_with_binary_search_on_every_size_and_key()
    {
        var random = new Random(7);
        for (int n = 0; n <= 70; n++)
        {
            var starts = new SortedSet<ulong>();
            while (starts.Count < n)
                starts.Add((ulong)random.NextInt64(1, 1000) * 0x1000);
            ulong[] sorted = [.. starts];
            var keys = new List<ulong> { 0, ulong.MaxValue };
            foreach (ulong s in sorted)
                keys.AddRange([s - 1, s, s + 1]);
            for (int k = 0; k < 50; k++)
                keys.Add((ulong)random.NextInt64(0, 1001 * 0x1000));
            foreach (ulong key in keys)
                Assert.Equal(Reference(sorted, key), SortedStarts.LastAtOrBelow(sorted, key));
        }
    }
}
