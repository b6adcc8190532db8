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
    // The workload's fields the per-access code reads, copied once (a property read through _w per access costs
    // more than the arithmetic around it: this runs millions of times a run).
    private readonly WorkloadPattern _pattern;
    private readonly ulong _ipa;
    private readonly ulong _sizeBytes;
    private readonly ulong _readPercent;
    private readonly ulong _readWritePercent;
    private readonly ulong _pageSize;
    private readonly ulong _offsetMask;
    private readonly ulong _pages;
    private readonly ulong _stride;
    private readonly ZipfTable? _zipf;
    private readonly ulong _scatterMask;
    private readonly ulong _bucketPages;
    private SplitMix64 _rng;
    private ulong _index;
    private ulong _cursor;
    private ulong _pass;

    public AccessGenerator(WorkloadEvent workload, Granule granule)
    {
        _w = workload;
        _pattern = workload.Pattern;
        _ipa = workload.Ipa;
        _sizeBytes = workload.SizeBytes;
        _readPercent = (ulong)workload.ReadPercent;
        _readWritePercent = (ulong)(workload.ReadPercent + workload.WritePercent);
        _pageSize = granule.PageSize;
        // An 8-byte-aligned offset in the page.
        _offsetMask = (_pageSize - 1) & ~7UL;
        _pages = Math.Max(1, workload.SizeBytes / _pageSize);
        _stride = workload.StrideBytes != 0 ? workload.StrideBytes : _pageSize;
        _rng = new SplitMix64(workload.Seed);
        Total = workload.AccessCount(granule);
        if (workload.Pattern == WorkloadPattern.Zipf)
        {
            ulong buckets = Math.Clamp(workload.ZipfBuckets, 1, Math.Min(_pages, 1UL << 20));
            _bucketPages = Math.Max(1, _pages / buckets);
            _zipf = ZipfTable.Get(buckets, workload.Skew);
            // Ranks are scattered over a power-of-two number of buckets (see ZipfPage); otherwise kept in order.
            _scatterMask = (buckets & (buckets - 1)) == 0 ? buckets - 1 : 0;
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
        // The generator's state in a local for the draw: kept in a register rather than stored and reloaded
        // through the object between each of the draws an access makes.
        SplitMix64 rng = _rng;
        switch (_pattern)
        {
            case WorkloadPattern.Trace:
                (ipa, kind) = _w.Trace![(int)(_index - 1)];
                return true;
            case WorkloadPattern.Random:
                ipa = _ipa + rng.NextBelow(_pages) * _pageSize + (rng.Next() & _offsetMask);
                break;
            case WorkloadPattern.Zipf:
                ipa = _ipa + ZipfPage(ref rng) * _pageSize + (rng.Next() & _offsetMask);
                break;
            default:
                // Sequential and strided sweeps wrap; each new pass of a strided sweep starts one page further
                // on, so repeated passes reach every page.
                if (_cursor >= _sizeBytes)
                {
                    _pass++;
                    _cursor = _pattern == WorkloadPattern.Strided ? (_pass * _pageSize) % Math.Max(_stride, _pageSize) : 0;
                }
                ipa = _ipa + _cursor;
                _cursor += _stride;
                break;
        }
        kind = NextKind(ref rng);
        _rng = rng;
        return true;
    }

    private ulong ZipfPage(ref SplitMix64 rng)
    {
        double u = rng.NextDouble();
        ulong bucket = (ulong)_zipf!.Bucket(u);
        // Scatter the ranks over the range (a fixed odd multiplier is a bijection modulo a power of two; fall back
        // to identity otherwise) so hot buckets are not all at the start.
        ulong scattered = _scatterMask != 0 ? (bucket * 0x9E3779B1UL) & _scatterMask : bucket;
        ulong page = scattered * _bucketPages + rng.NextBelow(_bucketPages);
        return Math.Min(page, _pages - 1);
    }

    private AccessKind NextKind(ref SplitMix64 rng)
    {
        if (_readPercent == 100)
            return AccessKind.Read;
        ulong roll = rng.NextBelow(100);
        if (roll < _readPercent)
            return AccessKind.Read;
        return roll < _readWritePercent ? AccessKind.Write : AccessKind.Exec;
    }
}
