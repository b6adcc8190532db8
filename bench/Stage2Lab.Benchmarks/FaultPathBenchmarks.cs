using BenchmarkDotNet.Attributes;
using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;
using static Stage2Lab.Benchmarks.Workloads;

namespace Stage2Lab.Benchmarks;

/// <summary>
/// The fault path of issue 3, "Speed": KvmVm.Access under v6.18 — the hardware walk, kvm_handle_guest_abort,
/// slot lookup, VMA lookup, the policy, the host translation and the stage-2 map. Per access.
/// </summary>
[MemoryDiagnoser]
public class FaultPathBenchmarks
{
    private const int Pages = (int)(GiB / (4 * KiB));
    private const int Lookups = 1 << 20;
    private const int ManySlots = 4096;

    private KvmVm _populated = null!;
    private KvmVm _many = null!;
    private ulong[] _faultOrder = null!;
    private ulong[] _hitIpas = null!;
    private ulong[] _slotIpas = null!;
    private ulong[] _vmaHvas = null!;

    [GlobalSetup]
    public void Setup()
    {
        _faultOrder = ShuffledPages(GuestIpa, GiB, 4 * KiB);
        _hitIpas = RandomIpas(Lookups, GuestIpa, GiB, Seed + 1);

        _populated = NewRamVm(GiB, thp: false);
        foreach (ulong ipa in _faultOrder)
            _populated.Access(ipa, AccessKind.Write);
        if (_populated.Counters.Mapped != Pages)
            throw new InvalidOperationException($"expected {Pages} 4K faults, got {_populated.Counters.Mapped}");

        _many = NewManySlotsVm(ManySlots);
        _slotIpas = RandomIpas(Lookups, GuestIpa, ManySlotsSpan(ManySlots), Seed + 2);
        _vmaHvas = RandomIpas(Lookups, GuestHva, ManySlotsSpan(ManySlots), Seed + 3);
    }

    /// <summary>
    /// Every page of 1 GiB once, in a seeded random order, each access a translation fault that maps a 4K page.
    /// Faults need a fresh VM (a second pass would only hit): creating it (a few objects, one slot) is part of the
    /// invocation and negligible next to 262,144 faults; its table pages are allocated by the faults themselves.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Pages, Description = "fault: 4K translation faults over 1 GiB (non-THP anon), per fault")]
    public long Fault4K()
    {
        KvmVm vm = NewRamVm(GiB, thp: false);
        foreach (ulong ipa in _faultOrder)
            vm.Access(ipa, AccessKind.Write);
        if (vm.Counters.Mapped != Pages)
            throw new InvalidOperationException($"expected {Pages} 4K faults, got {vm.Counters.Mapped}");
        return vm.Counters.Mapped;
    }

    /// <summary>The same faults under v7.4 (the kvm_s2_fault_* driver), and under v7.4 with pKVM (every fault tops the memcache up).</summary>
    [Benchmark(OperationsPerInvoke = Pages, Description = "fault: 4K translation faults over 1 GiB, v7.4, per fault")]
    [Arguments(false)]
    [Arguments(true)]
    public long Fault4KV74(bool pkvm)
    {
        KvmVm vm = NewRamVm(GiB, thp: false, "v7.4", pkvm ? VmFlavor.Pkvm : VmFlavor.Kvm);
        foreach (ulong ipa in _faultOrder)
            vm.Access(ipa, AccessKind.Write);
        if (vm.Counters.Mapped != Pages)
            throw new InvalidOperationException($"expected {Pages} 4K faults, got {vm.Counters.Mapped}");
        return vm.Counters.Mapped;
    }

    [Benchmark(OperationsPerInvoke = Lookups, Description = "hit: accesses to mapped 4K pages, per access")]
    public long Hit()
    {
        KvmVm vm = _populated;
        long before = vm.Counters.Hits;
        foreach (ulong ipa in _hitIpas)
            vm.Access(ipa, AccessKind.Read);
        return vm.Counters.Hits - before;
    }

    [Benchmark(OperationsPerInvoke = Lookups, Description = "Memslots.Find, 4096 slots, per lookup")]
    public int FindSlot()
    {
        MemslotTable slots = _many.Memslots;
        int found = 0;
        foreach (ulong ipa in _slotIpas)
        {
            if (slots.Find(ipa) is not null)
                found++;
        }
        return found;
    }

    [Benchmark(OperationsPerInvoke = Lookups, Description = "Host.FindVma, 4096 VMAs, per lookup")]
    public int FindVma()
    {
        HostAddressSpace host = _many.Host;
        int found = 0;
        foreach (ulong hva in _vmaHvas)
        {
            if (host.FindVma(hva) is not null)
                found++;
        }
        return found;
    }
}
