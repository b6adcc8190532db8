using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Runs;

namespace Stage2Lab.Simulation.Sweeps;

/// <summary>What a metric counts, for axes and cells: a count, bytes or nanoseconds.</summary>
public enum MetricUnit : byte
{
    Count,
    Bytes,
    Nanoseconds,
}

/// <summary>One number a sweep records per point and policy (a CSV column, a JSON field, a --metric).</summary>
public sealed record SweepMetric(string Name, MetricUnit Unit, string Description, Func<PolicyRun, long> Of);

/// <summary>
/// The numbers `run` and `compare` show, per point and policy, by name. Leaves are by level (L1 is 1G with 4K
/// pages, 64G with 16K, 4T with 64K; L2 is 2M, 32M, 512M; L3 the page), since a sweep may vary the granule.
/// </summary>
public static class SweepMetrics
{
    public static IReadOnlyList<SweepMetric> All { get; } =
    [
        new("faults", MetricUnit.Count, "stage-2 faults", r => r.TotalFaults.Faults),
        new("mapped", MetricUnit.Count, "faults that mapped", r => r.TotalFaults.Mapped),
        new("relaxed", MetricUnit.Count, "faults that relaxed permissions", r => r.TotalFaults.Relaxed),
        new("mmio-exits", MetricUnit.Count, "MMIO exits", r => r.TotalFaults.MmioExits),
        new("errors", MetricUnit.Count, "faults that failed (EFAULT/ENOEXEC)", r => r.TotalFaults.Errors),
        new("accesses", MetricUnit.Count, "guest accesses", r => r.TotalFaults.Accesses),
        new("leaves-at-creation", MetricUnit.Count, "leaves mapped at slot creation", r => r.Phases.Count > 0 ? r.Phases[0].Events.LeavesInstalled : 0),
        new("leaves-installed", MetricUnit.Count, "leaves installed", r => r.TotalEvents.LeavesInstalled),
        .. Levels("leaves-l", "live leaves at level {0} at the end", MetricUnit.Count, (r, l) => r.Final.Leaves[l]),
        .. Levels("mapped-bytes-l", "bytes mapped by level-{0} leaves at the end", MetricUnit.Bytes, (r, l) => (long)r.Final.MappedBytes[l]),
        new("table-bytes", MetricUnit.Bytes, "page-table memory at the end", r => r.Final.TableBytes),
        new("table-pages", MetricUnit.Count, "page-table pages at the end", r => r.Final.TablePages.Sum()),
        new("tlbis", MetricUnit.Count, "TLB invalidations", r => r.TotalEvents.TlbiTotal),
        new("tlbi-vmalls", MetricUnit.Count, "whole-VMID invalidations (VMALLS12E1IS)", r => r.TotalEvents[Stage2Counter.TlbiVmalls12e1is]),
        new("descriptor-writes", MetricUnit.Count, "descriptor writes", r => r.TotalEvents[Stage2Counter.DescriptorWrites]),
        new("break-before-make", MetricUnit.Count, "break-before-make sequences", r => r.TotalEvents[Stage2Counter.BreakBeforeMake]),
        new("cleaned-bytes", MetricUnit.Bytes, "bytes cleaned to PoC", r => r.TotalEvents[Stage2Counter.DcacheCleanBytes]),
        new("dirty-pages", MetricUnit.Count, "dirty pages at the end", r => r.Final.DirtyPages),
        new("refusals", MetricUnit.Count, "ioctls refused", r => r.Phases.Sum(p => p.Refusals.Count)),
        new("estimated-ns", MetricUnit.Nanoseconds, "estimated host time", r => (long)Math.Round(r.TotalEstimatedNs)),
    ];

    public static SweepMetric? Find(string name) => All.FirstOrDefault(m => m.Name == name);

    public static int IndexOf(string name)
    {
        for (int i = 0; i < All.Count; i++)
        {
            if (All[i].Name == name)
                return i;
        }
        return -1;
    }

    private static IEnumerable<SweepMetric> Levels(string prefix, string description, MetricUnit unit, Func<PolicyRun, int, long> of) =>
        Enumerable.Range(0, 4).Select(l => new SweepMetric(prefix + l, unit, string.Format(System.Globalization.CultureInfo.InvariantCulture, description, l), r => of(r, l)));
}
