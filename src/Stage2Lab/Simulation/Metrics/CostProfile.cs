using Stage2Lab.Kvm;
using Stage2Lab.PageTables;

namespace Stage2Lab.Simulation.Metrics;

/// <summary>
/// Turns event counts into an estimate of host time. Every constant names where it comes from (see
/// docs/cost-model.md): calibrated figures are derived from published measurements, the rest are stated
/// assumptions. Estimates are for comparing layouts and kernels, not for predicting a specific machine.
/// </summary>
public sealed record CostProfile(
    string Name,
    string Description,
    /// <summary>Guest exit, kvm_handle_guest_abort, user_mem_abort, pfn lookup and a descriptor write: per stage-2 fault that reaches the fault path.</summary>
    double FaultNs,
    /// <summary>A fault that exits to the VMM (KVM_EXIT_MMIO) and back.</summary>
    double MmioExitNs,
    /// <summary>Clean+invalidate to PoC, per byte (0 with FWB: nothing is cleaned).</summary>
    double DcacheCleanNsPerByte,
    /// <summary>I-cache invalidation to PoU, per byte.</summary>
    double IcacheInvalNsPerByte,
    /// <summary>One broadcast TLB invalidation instruction with its DSB (IPAS2E1IS, VMALLE1IS, RIPAS2E1IS).</summary>
    double TlbiNs,
    /// <summary>TLBI VMALLS12E1IS: the whole VMID, and the refills it causes.</summary>
    double TlbiVmidNs,
    /// <summary>One descriptor write outside the fault path (unmap, write-protect, split).</summary>
    double DescriptorWriteNs,
    /// <summary>Allocating and zeroing one table page.</summary>
    double TablePageNs)
{
    /// <summary>Estimated host nanoseconds for a phase's counts.</summary>
    public double EstimateNs(in VmCounters faults, in Stage2Counters events)
    {
        long faultPath = faults.Mapped + faults.Relaxed + faults.Errors + faults.Retries;
        long tlbiBroadcast = events.TlbiTotal - events[Stage2Counter.TlbiVmalls12e1is];
        // Fault-path descriptor writes are part of FaultNs (the calibration includes them).
        long extraWrites = Math.Max(0, events[Stage2Counter.DescriptorWrites] - 2 * faultPath);
        return faultPath * FaultNs
            + faults.MmioExits * MmioExitNs
            + events[Stage2Counter.DcacheCleanBytes] * DcacheCleanNsPerByte
            + events[Stage2Counter.IcacheInvalBytes] * IcacheInvalNsPerByte
            + tlbiBroadcast * TlbiNs
            + events[Stage2Counter.TlbiVmalls12e1is] * TlbiVmidNs
            + extraWrites * DescriptorWriteNs
            + events[Stage2Counter.TablePagesAllocated] * TablePageNs;
    }
}

/// <summary>The named cost profiles.</summary>
public static class CostProfiles
{
    // Kunpeng 920, no FWB, 1 vCPU (RFC cover letter of the 2021 stage-2 page-table work, stage2-model.md §7):
    //   20 GiB of 1 GiB blocks in ~3.70 s: 20 faults, so cleaning dominates: 3.70 s / 20 GiB = 0.1723 ns/byte.
    //   1 GiB of 4K mappings in ~0.82 s: 262,144 faults = 3,128 ns each = 4096 B * 0.1723 ns/B (706 ns) + 2,422 ns.
    private const double KunpengCleanNsPerByte = 3.70e9 / (20.0 * (1UL << 30));
    private const double KunpengFaultNs = 0.82e9 / 262144.0 - 4096 * KunpengCleanNsPerByte;

    /// <summary>Calibrated to the public Kunpeng 920 figures (no FWB).</summary>
    public static readonly CostProfile Kunpeng920 = new(
        "kunpeng920",
        "Kunpeng 920, no FWB: fault and clean costs calibrated to the 2021 RFC figures (1 GiB of 4K maps 0.82 s, 20 GiB of 1G blocks 3.70 s)",
        FaultNs: KunpengFaultNs,
        MmioExitNs: 10_000,           // assumption: a userspace MMIO exit round trip is ~4x a stage-2 fault
        DcacheCleanNsPerByte: KunpengCleanNsPerByte,
        IcacheInvalNsPerByte: KunpengCleanNsPerByte, // assumption: same throughput as the D-cache clean
        TlbiNs: 100,                  // assumption: a broadcast TLBI + DSB ISH on a 2-socket server
        TlbiVmidNs: 2_000,            // assumption: whole-VMID invalidation plus the refill misses it causes
        DescriptorWriteNs: 20,        // assumption: a store plus the walk to reach it
        TablePageNs: 500);            // assumption: zeroing 4 KiB at ~8 GB/s plus allocator overhead

    /// <summary>The same core with FEAT_S2FWB (and DIC): no cleaning to PoC, no I-cache maintenance.</summary>
    public static readonly CostProfile Fwb = new(
        "fwb",
        "A server core with FEAT_S2FWB and DIC: Kunpeng 920 fault cost, no cache maintenance (FWB forces write-back, DIC makes I-cache invalidation unnecessary)",
        FaultNs: KunpengFaultNs,
        MmioExitNs: 10_000,
        DcacheCleanNsPerByte: 0,
        IcacheInvalNsPerByte: 0,
        TlbiNs: 100,
        TlbiVmidNs: 2_000,
        DescriptorWriteNs: 20,
        TablePageNs: 500);

    public static IReadOnlyList<string> Names { get; } = [Kunpeng920.Name, Fwb.Name];

    public static CostProfile? TryGet(string name) => name switch
    {
        "kunpeng920" => Kunpeng920,
        "fwb" => Fwb,
        _ => null,
    };

    /// <summary>The profile a VM gets when the scenario names none: by its FWB setting.</summary>
    public static CostProfile ForFeatures(bool fwb) => fwb ? Fwb : Kunpeng920;
}
