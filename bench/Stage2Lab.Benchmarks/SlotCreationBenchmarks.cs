using BenchmarkDotNet.Attributes;
using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.PageTables;
using static Stage2Lab.Benchmarks.Workloads;

namespace Stage2Lab.Benchmarks;

/// <summary>
/// Slot creation before 5.14 (issue 14): kvm_phys_addr_ioremap maps every page of a VM_PFNMAP BAR when its slot
/// is created. The page-table library alone — 1 GiB of device pages as one kvm_pgtable_stage2_map call per page
/// (what the model did before) and as Stage2PageTable.MapPageByPage (the same calls in one walk), each followed
/// by an unmap of the GiB so the pool's pages are reused, per page — and the whole slot creation under v5.13
/// (KvmVm, fresh per invocation: every table page allocated, then stage2_flush_memslot) for 16 and 256 GiB BARs.
/// </summary>
[MemoryDiagnoser]
public class SlotCreationBenchmarks
{
    private const int Pages1G = (int)(GiB / (4 * KiB));
    private const Prot DeviceRw = Prot.Device | Prot.RW;

    private Stage2PageTable _table = null!;
    private MemoryCache _cache = null!;

    [GlobalSetup]
    public void Setup()
    {
        _cache = MemoryCache.Unbounded();
        _table = NewTable();
        // One warm round, so the pool holds its table pages and the measured rounds reuse them.
        Check(_table.MapPageByPage(GuestIpa, GiB, MapPa, DeviceRw, _cache));
        _table.Unmap(GuestIpa, GiB);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Pages1G, Description = "1 GiB of device pages, one map call per page (+unmap), per page")]
    public long OneMapCallPerPage()
    {
        for (ulong off = 0; off < GiB; off += 4 * KiB)
            Check(_table.Map(GuestIpa + off, 4 * KiB, MapPa + off, DeviceRw, _cache));
        _table.Unmap(GuestIpa, GiB);
        return _table.LiveTablePagesTotal;
    }

    [Benchmark(OperationsPerInvoke = Pages1G, Description = "1 GiB of device pages, MapPageByPage (+unmap), per page")]
    public long MapPageByPage()
    {
        Check(_table.MapPageByPage(GuestIpa, GiB, MapPa, DeviceRw, _cache));
        _table.Unmap(GuestIpa, GiB);
        return _table.LiveTablePagesTotal;
    }

    [Benchmark(OperationsPerInvoke = 1, Description = "v5.13: create a 16 GiB BAR slot, fresh VM")]
    public long CreateBarSlot16G() => CreateBarSlot(16 * GiB);

    [Benchmark(OperationsPerInvoke = 1, Description = "v5.13: create a 256 GiB BAR slot, fresh VM")]
    public long CreateBarSlot256G() => CreateBarSlot(256 * GiB);

    private static long CreateBarSlot(ulong barBytes)
    {
        KvmVm vm = NewBarVm(barBytes, "v5.13");
        long leaves = vm.Stage2.Counters[Stage2Counter.LeavesInstalledL3];
        if (leaves != (long)(barBytes / (4 * KiB)))
            throw new InvalidOperationException($"expected the whole BAR mapped as 4K pages, got {leaves} pages");
        return leaves;
    }

    private static void Check(int ret)
    {
        if (ret != 0)
            throw new InvalidOperationException($"map failed: {Errno.Name(ret)}");
    }
}
