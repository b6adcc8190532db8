namespace Stage2Lab.Arch;

/// <summary>
/// Lookups in an ascending array of distinct range starts (VMAs, memslots, RAM ranges): which range could hold
/// an address. Every guest fault does a few of these, so the search is a plain loop the JIT turns into
/// conditional moves, not Array.BinarySearch with a comparer call per step.
/// </summary>
public static class SortedStarts
{
    /// <summary>The index of the last start at or below <paramref name="key"/>, or -1 when every start is above it.</summary>
    public static int LastAtOrBelow(ulong[] starts, ulong key)
    {
        int n = starts.Length;
        if (n == 0)
            return -1;
        // The answer, if any, stays in [lo, lo + n): halve the window by one probe per step.
        int lo = 0;
        while (n > 1)
        {
            int half = n >> 1;
            lo = starts[lo + half] <= key ? lo + half : lo;
            n -= half;
        }
        return starts[lo] <= key ? lo : -1;
    }
}
