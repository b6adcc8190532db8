using Stage2Lab.Host;

namespace Stage2Lab.Kvm;

/// <summary>What kvm_arch_prepare/commit_memory_region may touch: the stage-2 MMU, the VMM's address space, the VM's settings.</summary>
public readonly struct MemslotContext
{
    public MemslotContext(Stage2Mmu mmu, HostAddressSpace host, VmConfig config, DecisionRecord? explain, bool hypVmCreated = false)
    {
        HypVmCreated = hypVmCreated;
        Mmu = mmu;
        Host = host;
        Config = config;
        Explain = explain;
    }

    public Stage2Mmu Mmu { get; }

    public HostAddressSpace Host { get; }

    public VmConfig Config { get; }

    /// <summary>When set, what the hook mapped is recorded as decision steps.</summary>
    public DecisionRecord? Explain { get; }

    /// <summary>pkvm_hyp_vm_is_created: under protected KVM, the hypervisor's copy of the VM exists once a vCPU first ran.</summary>
    public bool HypVmCreated { get; }

    public ulong PageSize => Config.Granule.PageSize;

    public int PageShift => Config.Granule.PageShift;
}
