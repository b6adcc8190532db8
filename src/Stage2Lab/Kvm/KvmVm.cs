using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.PageTables;

namespace Stage2Lab.Kvm;

/// <summary>
/// One VM (struct kvm): its memslots, the VMM's address space it reads, its stage-2 MMU, and the fault-path policy
/// (kernel version) that decides mappings. Every guest access goes through the hardware walk of the real table,
/// then kvm_handle_guest_abort and the policy's user_mem_abort, which sees only a <see cref="FaultContext"/>.
/// </summary>
public sealed partial class KvmVm
{
    private VmCounters _counters;

    /// <param name="tablePages">Where the stage-2 table pages come from and, at <see cref="ReturnTablePages"/>, go back to; null: fresh ones.</param>
    /// <param name="hitMemo">Whether hits are served from a memo (<see cref="HitMemoEnabled"/>); it changes no result.</param>
    public KvmVm(VmConfig config, HostAddressSpace host, FaultPolicy policy, TablePageCache? tablePages = null, bool hitMemo = true)
    {
        if (host.Config.Granule != config.Granule)
            throw new ArgumentException($"the VM granule ({config.Granule}) must be the host PAGE_SIZE ({host.Config.Granule})", nameof(config));
        if (!policy.Supports(config.Flavor))
            throw new ArgumentException($"policy {policy.Name} has no fault path for {config.Flavor} VMs", nameof(policy));
        if (config.NestedStage2 is not null && !policy.SupportsNested)
            throw new ArgumentException($"policy {policy.Name} does not model nested guests", nameof(policy));
        Config = config;
        Host = host;
        Policy = policy;
        Mmu = new Stage2Mmu(config.Granule, config.IpaBits, config.Features, policy.PageTableApi, policy.RangeFlushFor(config.Flavor),
            config.EagerSplitChunkBytes, config.Flavor, pageCache: tablePages);
        if (config.NestedStage2 is not null)
        {
            // A shadow stage 2 for the L2 guest: no eager splitting, its own VMID.
            Mmu.Shadow = new Stage2Mmu(config.Granule, config.IpaBits, config.Features, policy.PageTableApi, policy.RangeFlushFor(config.Flavor),
                0, config.Flavor, isNested: true, pageCache: tablePages);
        }
        Memslots = new MemslotTable(config.MaxSlots);
        HitMemoEnabled = hitMemo;
    }

    public VmConfig Config { get; }

    public HostAddressSpace Host { get; }

    public FaultPolicy Policy { get; }

    /// <summary>kvm->arch.mmu.</summary>
    public Stage2Mmu Mmu { get; }

    /// <summary>The stage-2 page table (kvm->arch.mmu.pgt).</summary>
    public Stage2PageTable Stage2 => Mmu.Pgt;

    public MemslotTable Memslots { get; }

    public CpuFeatures Features => Config.Features;

    public Granule Granule => Config.Granule;

    public ulong PageSize => Config.Granule.PageSize;

    public int PageShift => Config.Granule.PageShift;

    /// <summary>Fault-path counts since the VM was created.</summary>
    public ref readonly VmCounters Counters => ref _counters;

    /// <summary>
    /// pkvm_hyp_vm_is_created: under protected KVM the hypervisor's copy of the VM is created when a vCPU first
    /// runs (the model: at the first guest access).
    /// </summary>
    public bool HypVmCreated { get; private set; }

    /// <summary>What the architecture's memslot hooks may touch.</summary>
    private MemslotContext ArchContext(DecisionRecord? explain = null) => new(Mmu, Host, Config, explain, HypVmCreated);

    /// <summary>kvm_free_stage2_pgd at VM teardown: every table page goes, no maintenance (shadow stage 2 included).</summary>
    public void Teardown()
    {
        Stage2.DestroyRange(0, Mmu.IpaLimit);
        Mmu.Shadow?.Pgt.DestroyRange(0, Mmu.Shadow.IpaLimit);
    }

    /// <summary>
    /// The VM is finished with (nothing reads it again): its table pages go back to the cache it was created
    /// with, for the next VM on this thread. Not a kernel operation: the model's own memory.
    /// </summary>
    public void ReturnTablePages()
    {
        Stage2.ReturnPages();
        Mmu.Shadow?.Pgt.ReturnPages();
    }
}
