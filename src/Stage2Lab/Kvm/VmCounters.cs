namespace Stage2Lab.Kvm;

/// <summary>Fault-path counts of a VM, by outcome and by mapping size.</summary>
public struct VmCounters
{
    public long Accesses;
    public long Hits;
    public long Mapped;
    public long Relaxed;
    public long MmioExits;
    public long Retries;
    public long Errors;
    public long Injected;
    /// <summary>An L2 guest's faults the L1 hypervisor's stage 2 did not map or allow (kvm_inject_s2_fault).</summary>
    public long ForwardedToL1;
    public long DirtyPagesMarked;
    public long NonRamPageTouches;

    public readonly long Faults => Mapped + Relaxed + MmioExits + Retries + Errors + Injected + ForwardedToL1;

    /// <summary>What <see cref="Count"/> does for a hit (no dirty page, no non-RAM page touched).</summary>
    public void CountHit()
    {
        Accesses++;
        Hits++;
    }

    /// <summary><see cref="CountHit"/> <paramref name="hits"/> times.</summary>
    public void CountHits(int hits)
    {
        Accesses += hits;
        Hits += hits;
    }

    public void Count(in FaultResult result)
    {
        Accesses++;
        switch (result.Outcome)
        {
            case FaultOutcome.Hit: Hits++; break;
            case FaultOutcome.Mapped: Mapped++; break;
            case FaultOutcome.Relaxed: Relaxed++; break;
            case FaultOutcome.Mmio: MmioExits++; break;
            case FaultOutcome.Retry: Retries++; break;
            case FaultOutcome.Error: Errors++; break;
            case FaultOutcome.ForwardedToL1: ForwardedToL1++; break;
            default: Injected++; break;
        }
        if (result.TouchedNonRamPage)
            NonRamPageTouches++;
        if (result.MarkedDirty)
            DirtyPagesMarked++;
    }

    public static VmCounters operator +(VmCounters a, VmCounters b) => new()
    {
        Accesses = a.Accesses + b.Accesses,
        Hits = a.Hits + b.Hits,
        Mapped = a.Mapped + b.Mapped,
        Relaxed = a.Relaxed + b.Relaxed,
        MmioExits = a.MmioExits + b.MmioExits,
        Retries = a.Retries + b.Retries,
        Errors = a.Errors + b.Errors,
        Injected = a.Injected + b.Injected,
        ForwardedToL1 = a.ForwardedToL1 + b.ForwardedToL1,
        DirtyPagesMarked = a.DirtyPagesMarked + b.DirtyPagesMarked,
        NonRamPageTouches = a.NonRamPageTouches + b.NonRamPageTouches,
    };

    public static VmCounters operator -(VmCounters a, VmCounters b) => new()
    {
        Accesses = a.Accesses - b.Accesses,
        Hits = a.Hits - b.Hits,
        Mapped = a.Mapped - b.Mapped,
        Relaxed = a.Relaxed - b.Relaxed,
        MmioExits = a.MmioExits - b.MmioExits,
        Retries = a.Retries - b.Retries,
        Errors = a.Errors - b.Errors,
        Injected = a.Injected - b.Injected,
        ForwardedToL1 = a.ForwardedToL1 - b.ForwardedToL1,
        DirtyPagesMarked = a.DirtyPagesMarked - b.DirtyPagesMarked,
        NonRamPageTouches = a.NonRamPageTouches - b.NonRamPageTouches,
    };
}
