using Stage2Lab.Arch;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Workloads;

/// <summary>
/// Produces a workload's guest accesses one at a time, allocation-free: sequential sweep, uniform random,
/// strided, hot/cold Zipf, or a trace.
/// </summary>
public sealed class AccessGenerator
{
    private readonly WorkloadEvent _w;
    private readonly ulong _pageSize;
    private readonly ulong _pages;
    private readonly ulong _stride;
    private readonly ZipfTable? _zipf;
    private readonly ulong _bucketPages;
    private SplitMix64 _rng;
    private ulong _index;
    private ulong _cursor;
    private ulong _pass;

    public AccessGenerator(WorkloadEvent workload, Granule granule)
    {
        _w = workload;
        _pageSize = granule.PageSize;
        _pages = Math.Max(1, workload.SizeBytes / _pageSize);
        _stride = workload.StrideBytes != 0 ? workload.StrideBytes : _pageSize;
        _rng = new SplitMix64(workload.Seed);
        Total = workload.AccessCount(granule);
        if (workload.Pattern == WorkloadPattern.Zipf)
        {
            ulong buckets = Math.Clamp(workload.ZipfBuckets, 1, Math.Min(_pages, 1UL << 20));
            _bucketPages = Math.Max(1, _pages / buckets);
            _zipf = ZipfTable.Get(buckets, workload.Skew);
        }
    }

    /// <summary>How many accesses the workload makes.</summary>
    public ulong Total { get; }

    public bool Next(out ulong ipa, out AccessKind kind)
    {
        if (_index >= Total)
        {
            ipa = 0;
            kind = AccessKind.Read;
            return false;
        }
        _index++;
        switch (_w.Pattern)
        {
            case WorkloadPattern.Trace:
                (ipa, kind) = _w.Trace![(int)(_index - 1)];
                return true;
            case WorkloadPattern.Random:
                ipa = _w.Ipa + _rng.NextBelow(_pages) * _pageSize + (_rng.Next() & (_pageSize - 1) & ~7UL);
                break;
            case WorkloadPattern.Zipf:
                ipa = _w.Ipa + ZipfPage() * _pageSize + (_rng.Next() & (_pageSize - 1) & ~7UL);
                break;
            default:
                // Sequential and strided sweeps wrap; each new pass of a strided sweep starts one page further
                // on, so repeated passes reach every page.
                if (_cursor >= _w.SizeBytes)
                {
                    _pass++;
                    _cursor = _w.Pattern == WorkloadPattern.Strided ? (_pass * _pageSize) % Math.Max(_stride, _pageSize) : 0;
                }
                ipa = _w.Ipa + _cursor;
                _cursor += _stride;
                break;
        }
        kind = NextKind();
        return true;
    }

    private ulong ZipfPage()
    {
        double u = _rng.NextDouble();
        int bucket = _zipf!.Bucket(u);
        // Scatter the ranks over the range (a fixed odd multiplier is a bijection modulo a power of two; fall back
        // to identity otherwise) so hot buckets are not all at the start.
        ulong buckets = (ulong)_zipf.Buckets;
        ulong scattered = (buckets & (buckets - 1)) == 0 ? ((ulong)bucket * 0x9E3779B1UL) & (buckets - 1) : (ulong)bucket;
        ulong page = scattered * _bucketPages + _rng.NextBelow(_bucketPages);
        return Math.Min(page, _pages - 1);
    }

    private AccessKind NextKind()
    {
        if (_w.ReadPercent == 100)
            return AccessKind.Read;
        ulong roll = _rng.NextBelow(100);
        if (roll < (ulong)_w.ReadPercent)
            return AccessKind.Read;
        return roll < (ulong)(_w.ReadPercent + _w.WritePercent) ? AccessKind.Write : AccessKind.Exec;
    }
}
