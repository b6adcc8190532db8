namespace Stage2Lab.PageTables;

/// <summary>
/// struct kvm_mmu_memory_cache: table pages set aside before a walk so the walk itself never allocates
/// from the page allocator. A walk that needs a page from an empty cache fails with -ENOMEM.
/// </summary>
public sealed class MemoryCache
{
    public MemoryCache(long capacity, long objects)
    {
        Capacity = capacity;
        Objects = objects;
    }

    /// <summary>A cache that never runs out (the op-script harness's "unbounded page cache").</summary>
    public static MemoryCache Unbounded() => new(long.MaxValue, long.MaxValue);

    public long Capacity { get; }

    /// <summary>Free objects (nobjs).</summary>
    public long Objects { get; private set; }

    /// <summary>Takes one page; false when the cache is empty.</summary>
    public bool TryTake()
    {
        if (Objects == 0)
            return false;
        if (Objects != long.MaxValue)
            Objects--;
        return true;
    }

    /// <summary>__kvm_mmu_topup_memory_cache: fills the cache to its capacity when it holds fewer than <paramref name="min"/>.</summary>
    public void TopUp(long min)
    {
        if (Objects < min)
            Objects = Capacity;
    }
}
