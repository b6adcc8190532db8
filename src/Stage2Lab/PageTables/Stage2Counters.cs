using System.Runtime.CompilerServices;

namespace Stage2Lab.PageTables;

/// <summary>What the kernel and the CPU did: one counter per kind of event.</summary>
public enum Stage2Counter
{
    /// <summary>Stores to a descriptor (break markers included), as WRITE_ONCE/smp_store_release do.</summary>
    DescriptorWrites,
    /// <summary>A valid entry replaced through break-before-make (stage2_try_break_pte on a valid entry).</summary>
    BreakBeforeMake,
    LeavesInstalledL0,
    LeavesInstalledL1,
    LeavesInstalledL2,
    LeavesInstalledL3,
    LeavesRemoved,
    TablePagesAllocated,
    TablePagesFreed,
    /// <summary>TLBI IPAS2E1IS with a level hint (L0..L3) or with TTL unknown.</summary>
    TlbiIpas2e1isL0,
    TlbiIpas2e1isL1,
    TlbiIpas2e1isL2,
    TlbiIpas2e1isL3,
    TlbiIpas2e1isNoHint,
    /// <summary>TLBI IPAS2E1 (non-shareable), from __kvm_tlb_flush_vmid_ipa_nsh after relax_perms.</summary>
    TlbiIpas2e1,
    /// <summary>TLBI VMALLE1IS following an IPA or range invalidation.</summary>
    TlbiVmalle1is,
    /// <summary>TLBI VMALLE1 (non-shareable).</summary>
    TlbiVmalle1,
    /// <summary>TLBI VMALLS12E1IS: the whole VMID (__kvm_tlb_flush_vmid).</summary>
    TlbiVmalls12e1is,
    /// <summary>TLBI RIPAS2E1IS range operations (__kvm_tlb_flush_vmid_range with FEAT_TLBIRANGE).</summary>
    TlbiRange,
    TlbiRangePages,
    /// <summary>Clean+invalidate to PoC (dcache_clean_inval_poc): calls and bytes.</summary>
    DcacheCleanOps,
    DcacheCleanBytes,
    /// <summary>I-cache invalidations to PoU that did real work (not elided by DIC): calls and bytes.</summary>
    IcacheInvalOps,
    IcacheInvalBytes,
}

[InlineArray(Stage2Counters.Count)]
public struct Stage2CounterBuffer
{
    private long _element0;
}

/// <summary>A snapshot-able set of <see cref="Stage2Counter"/> values; a plain value type so a before/after
/// difference costs nothing on the hot path.</summary>
public struct Stage2Counters
{
    public const int Count = (int)Stage2Counter.IcacheInvalBytes + 1;

    private Stage2CounterBuffer _values;

    public long this[Stage2Counter counter]
    {
        readonly get => _values[(int)counter];
        set => _values[(int)counter] = value;
    }

    public void Add(Stage2Counter counter, long amount = 1) => _values[(int)counter] += amount;

    public readonly long TlbiTotal =>
        this[Stage2Counter.TlbiIpas2e1isL0] + this[Stage2Counter.TlbiIpas2e1isL1] + this[Stage2Counter.TlbiIpas2e1isL2]
        + this[Stage2Counter.TlbiIpas2e1isL3] + this[Stage2Counter.TlbiIpas2e1isNoHint] + this[Stage2Counter.TlbiIpas2e1]
        + this[Stage2Counter.TlbiVmalle1is] + this[Stage2Counter.TlbiVmalle1] + this[Stage2Counter.TlbiVmalls12e1is]
        + this[Stage2Counter.TlbiRange];

    public readonly long LeavesInstalled =>
        this[Stage2Counter.LeavesInstalledL0] + this[Stage2Counter.LeavesInstalledL1]
        + this[Stage2Counter.LeavesInstalledL2] + this[Stage2Counter.LeavesInstalledL3];

    public static Stage2Counters operator -(Stage2Counters after, Stage2Counters before)
    {
        Stage2Counters diff = default;
        for (int i = 0; i < Count; i++)
            diff._values[i] = after._values[i] - before._values[i];
        return diff;
    }

    public static Stage2Counters operator +(Stage2Counters a, Stage2Counters b)
    {
        Stage2Counters sum = default;
        for (int i = 0; i < Count; i++)
            sum._values[i] = a._values[i] + b._values[i];
        return sum;
    }

    public readonly bool IsZero
    {
        get
        {
            for (int i = 0; i < Count; i++)
            {
                if (_values[i] != 0)
                    return false;
            }
            return true;
        }
    }
}
