using Stage2Lab.Arch;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Workloads;

/// <summary>
/// The random and Zipf workloads' accesses, generated once per command and replayed by each run that plays the
/// same workload: compare's policies, a sweep's points and policies (a point that varies a mapping or a policy
/// leaves the workloads' IPAs and seeds as they are), advise's candidates. Drawing an access (a Zipf rank through
/// a cumulative table of up to a million doubles, the page, the offset, the kind) costs several times more than
/// reading it back, and a sweep draws the same million accesses thousands of times. Thread-safe: runs on
/// several threads share it, and a stream is generated once even when two runs ask for it at the same time.
/// <para>
/// Bounded: at most <see cref="MaxBytes"/> of streams are kept, the least recently used let go first; a workload
/// whose stream alone would take more than a quarter of that, or a pattern that is cheaper to generate than
/// to read (sequential and strided sweeps, traces already in memory), is played from its generator.
/// </para>
/// </summary>
public sealed class AccessStreamCache
{
    /// <summary>The default bound: 256 MiB, about 29 million accesses.</summary>
    public const long DefaultMaxBytes = 256L << 20;

    // Below this a workload is generated faster than its stream is looked up.
    private const ulong MinAccesses = 4096;

    private readonly Dictionary<AccessStreamKey, Entry> _entries = new();
    private readonly Lock _lock = new();
    private long _bytes;
    private long _clock;

    public AccessStreamCache(long maxBytes = DefaultMaxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        MaxBytes = maxBytes;
    }

    public long MaxBytes { get; }

    /// <summary>The workload's stream, generated now if no run made it yet; null when it is played from its generator.</summary>
    public AccessStream? Get(WorkloadEvent workload, Granule granule)
    {
        if (workload.Pattern is not (WorkloadPattern.Random or WorkloadPattern.Zipf))
            return null;
        AccessStreamKey key = AccessStreamKey.Of(workload, granule);
        long bytes = (long)Math.Min(key.Accesses, long.MaxValue / 16) * (sizeof(ulong) + sizeof(AccessKind));
        if (key.Accesses < MinAccesses || bytes > MaxBytes / 4)
            return null;
        Entry entry;
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out entry!))
            {
                entry = new Entry(new Lazy<AccessStream>(
                    () => AccessStream.Generate(new AccessGenerator(workload, granule), (int)key.Accesses),
                    LazyThreadSafetyMode.ExecutionAndPublication), bytes);
                _bytes += bytes;
                _entries.Add(key, entry);
                EvictOver(key);
            }
            entry.LastUse = ++_clock;
        }
        return entry.Stream.Value;
    }

    // Lets the least recently used streams go until the kept ones fit (never the one just added; a run that
    // still plays an evicted stream keeps it alive until it ends).
    private void EvictOver(AccessStreamKey keep)
    {
        while (_bytes > MaxBytes)
        {
            AccessStreamKey oldest = default;
            long oldestUse = long.MaxValue;
            foreach (var (key, e) in _entries)
            {
                if (!key.Equals(keep) && e.LastUse < oldestUse)
                {
                    oldest = key;
                    oldestUse = e.LastUse;
                }
            }
            if (oldestUse == long.MaxValue)
                return;
            _bytes -= _entries[oldest].Bytes;
            _entries.Remove(oldest);
        }
    }

    private sealed class Entry(Lazy<AccessStream> stream, long bytes)
    {
        public Lazy<AccessStream> Stream { get; } = stream;

        public long Bytes { get; } = bytes;

        public long LastUse { get; set; }
    }
}
