using BenchmarkDotNet.Attributes;
using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.Kvm.Policies;
using static Stage2Lab.Benchmarks.Workloads;

namespace Stage2Lab.Benchmarks;

/// <summary>
/// Issue 12, "Cost that grows faster than the work": creating n memslots (KVM_SET_USER_MEMORY_REGION) in a
/// seeded random IPA order, up to KVM's 32,764 per address space. Each creation does the overlap check of
/// __kvm_set_memory_region and inserts the slot; with a balanced tree both are O(log n), so the time per
/// invocation grows linearly with n (times log n), where it used to grow with n².
/// </summary>
[MemoryDiagnoser]
public class MemslotBenchmarks
{
    private const ulong SlotBytes = 64 * KiB;

    private HostAddressSpace _host = null!;
    private int[] _order = null!;

    [Params(4096, 8192, 16384, 32764)]
    public int Slots { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var memory = new PhysicalMemory();
        if (!memory.AddRam(HostRamBase, (ulong)Slots * SlotBytes).Succeeded)
            throw new InvalidOperationException("RAM");
        _host = new HostAddressSpace(new HostPageTableConfig(Granule.Size4K), memory);
        // One VMA behind every slot: the benchmark measures the memslot table, not the host's VMA list.
        if (!_host.AddVma(new Vma { Start = GuestHva, End = GuestHva + (ulong)Slots * SlotBytes, Kind = VmaKind.Anonymous, BasePa = HostRamBase }).Succeeded)
            throw new InvalidOperationException("VMA");
        _order = Enumerable.Range(0, Slots).ToArray();
        new Random(Seed).Shuffle(_order);
    }

    [Benchmark(Description = "create n memslots (random IPA order), whole run")]
    public int Create()
    {
        var vm = new KvmVm(new VmConfig { Granule = Granule.Size4K, IpaBits = 40, MaxSlots = 32764 }, _host, PolicyRegistry.Create("v6.18"));
        foreach (int i in _order)
        {
            KvmResult r = vm.SetUserMemoryRegion(i, GuestIpa + (ulong)i * SlotBytes, SlotBytes, GuestHva + (ulong)i * SlotBytes, MemslotFlags.None);
            if (!r.Succeeded)
                throw new InvalidOperationException($"errno {r.Errno}: {r.Refusal}");
        }
        return vm.Memslots.Count;
    }
}
