namespace Stage2Lab.Simulation.Workloads;

/// <summary>
/// The cumulative Zipf distribution over a workload's buckets, with a guide table over the first 16 bits of the
/// uniform draw so that a draw is a short search in a few neighbouring entries rather than a binary search over
/// up to a million doubles (the sweep's hot spot: one per access). Immutable, so runs share it: building it costs
/// a power per bucket, and a sweep or compare runs the same workload many times.
/// </summary>
internal sealed class ZipfTable
{
    private const int GuideBits = 16;
    private const int GuideCells = 1 << GuideBits;
    private const int CacheEntries = 8;

    private static readonly List<((ulong Buckets, double Skew) Key, ZipfTable Table)> Cache = new();
    private static readonly Lock CacheLock = new();

    private readonly double[] _cdf;

    // _guide[c]: the first bucket whose cumulative share reaches c / 2^16; a draw u in [c, c+1) / 2^16 lands in
    // [_guide[c], _guide[c + 1]], since the first bucket reaching u only moves forward as u grows.
    private readonly int[] _guide;

    private ZipfTable(ulong buckets, double skew)
    {
        _cdf = new double[buckets];
        double sum = 0;
        for (ulong r = 0; r < buckets; r++)
        {
            sum += 1.0 / Math.Pow(r + 1, skew);
            _cdf[r] = sum;
        }
        for (ulong r = 0; r < buckets; r++)
            _cdf[r] /= sum;
        _guide = new int[GuideCells + 1];
        int i = 0;
        for (int c = 0; c <= GuideCells; c++)
        {
            double target = (double)c / GuideCells;
            while (i < _cdf.Length && _cdf[i] < target)
                i++;
            _guide[c] = i;
        }
    }

    public int Buckets => _cdf.Length;

    public static ZipfTable Get(ulong buckets, double skew)
    {
        lock (CacheLock)
        {
            foreach (var (key, table) in Cache)
            {
                if (key.Buckets == buckets && key.Skew.Equals(skew))
                    return table;
            }
        }
        var made = new ZipfTable(buckets, skew);
        lock (CacheLock)
        {
            if (Cache.Count == CacheEntries)
                Cache.RemoveAt(0);
            Cache.Add(((buckets, skew), made));
        }
        return made;
    }

    /// <summary>The first bucket whose cumulative share reaches <paramref name="u"/> (in [0, 1)); the last bucket at most.</summary>
    public int Bucket(double u)
    {
        int cell = (int)(u * GuideCells);
        int lo = _guide[cell], hi = Math.Min(_guide[cell + 1], _cdf.Length - 1);
        while (lo < hi)
        {
            int mid = (int)((uint)(lo + hi) >> 1);
            if (_cdf[mid] < u)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }
}
