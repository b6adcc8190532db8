namespace Stage2Lab.Kvm.Policies;

/// <summary>What a policy is: a kernel's own fault path, a proposal for one, or a deliberately broken variant.</summary>
public enum PolicyKind : byte
{
    /// <summary>A released (or merged-for-release) kernel's fault path, reproduced from its source.</summary>
    Kernel,
    /// <summary>A change proposed upstream, modelled on a kernel: never a default.</summary>
    Proposal,
    /// <summary>A kernel with one safeguard removed, to show that the checker and the fuzzer catch it.</summary>
    BuggyVariant,
}

/// <summary>One selectable policy: its name, kind, the kernel source it follows, and how to make one.</summary>
public sealed record PolicyDescriptor(string Name, PolicyKind Kind, string Description, string KernelSource, Func<FaultPolicy> Create);

/// <summary>
/// What a run or a comparison column is: a policy, and optionally the VM flavor it runs under regardless of the
/// scenario's <c>vm.pkvm</c> — written <c>v7.4+pkvm</c> (a non-protected guest under protected KVM) or
/// <c>v7.4+protected</c> (a protected guest), so one comparison can show a kernel with and without pKVM.
/// </summary>
public readonly record struct PolicyTarget(PolicyDescriptor Policy, VmFlavor? Flavor)
{
    public const string PkvmSuffix = "+pkvm";
    public const string ProtectedSuffix = "+protected";

    public string Name => Policy.Name + Flavor switch
    {
        VmFlavor.Pkvm => PkvmSuffix,
        VmFlavor.ProtectedPkvm => ProtectedSuffix,
        _ => "",
    };
}

/// <summary>
/// Every policy, in the order comparisons list them: kernels oldest first, then proposals, then the buggy
/// variants. The command line, the scenario and script readers, and the tests all take their choices from here.
/// </summary>
public static class PolicyRegistry
{
    public static IReadOnlyList<PolicyDescriptor> All { get; } =
    [
        new("v5.9", PolicyKind.Kernel, "Linux 5.10-rc1 (before 91a2c34b7d6f): THP adjust may run on a device pfn",
            "arch/arm64/kvm/mmu.c, v5.10-rc1", () => new V5_9Policy()),
        new("v5.13", PolicyKind.Kernel, "Linux 5.13 (before the patch): BARs mapped page by page at slot creation",
            "arch/arm64/kvm/mmu.c, v5.13", () => new V5_13Policy()),
        new("seed-v3", PolicyKind.Kernel, "The seed's v3 series on 5.13: device_rough_page_shift, lazy device mapping",
            "arch/arm64/kvm/mmu.c, v5.13 + [PATCH v3 1/2, 2/2] (Keqian Zhu, April 2021)", () => new SeedV3Policy()),
        new("v5.14", PolicyKind.Kernel, "Linux 5.14/5.15 (the series as merged): get_vma_page_shift, lazy device mapping",
            "arch/arm64/kvm/mmu.c, v5.15.y", () => new V5_14Policy()),
        new("v6.18", PolicyKind.Kernel, "Linux 6.18 LTS: get_vma_page_shift, Normal-NC and cacheable PFNMAP, FEAT_XNX relax",
            "arch/arm64/kvm/mmu.c, v6.19-era", () => new V6_18Policy()),
        new("v7.4", PolicyKind.Kernel, "kvmarm/next, the v7.4 cycle: user_mem_abort as kvm_s2_fault_* steps with max_map_size; granule-aligned page IPAs; pKVM, protected and nested guests, guest_memfd",
            "arch/arm64/kvm/mmu.c, kvmarm/next (October 2026)", () => new V7_4Policy()),
        new("host-pte", PolicyKind.Proposal, "2025 proposal on v6.18: PFNMAP sized from the host page-table leaf, not vm_pgoff",
            "arch/arm64/kvm/mmu.c, v6.19-era, with the 2025 host-leaf sizing", () => new HostPtePolicy()),
        new("bug-no-pa-align", PolicyKind.BuggyVariant, "v6.18 without the seed's first point: PFNMAP blocks without checking hva ≡ pa, the pfn aligned down as for a THP",
            "v6.18 minus the hva ≡ pa test", () => new BuggyVariants.PfnMapCheckVariant("bug-no-pa-align", PfnMapChecks.VmaBounds)),
        new("bug-no-vma-bound", PolicyKind.BuggyVariant, "v6.18 without the seed's second point: PFNMAP blocks without checking the VMA bounds",
            "v6.18 minus the VMA-bounds test", () => new BuggyVariants.PfnMapCheckVariant("bug-no-vma-bound", PfnMapChecks.PaAlignment)),
        new("bug-log-blocks", PolicyKind.BuggyVariant, "v6.18 where dirty logging does not force page mappings",
            "v6.18 minus logging's force_pte", () => new BuggyVariants.LoggingBlocksVariant()),
    ];

    /// <summary>Every selectable name.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. All.Select(p => p.Name)];

    /// <summary>Every policy, then every policy with a pKVM flavor it models (v6.18+pkvm, v7.4+pkvm, v7.4+protected).</summary>
    public static IReadOnlyList<string> TargetNames { get; } =
    [
        .. Names,
        .. All.Where(p => p.Create().Supports(VmFlavor.Pkvm)).Select(p => p.Name + PolicyTarget.PkvmSuffix),
        .. All.Where(p => p.Create().Supports(VmFlavor.ProtectedPkvm)).Select(p => p.Name + PolicyTarget.ProtectedSuffix),
    ];

    /// <summary>A policy name, possibly with a flavor suffix (+pkvm, +protected) the policy models; or null.</summary>
    public static PolicyTarget? FindTarget(string name)
    {
        VmFlavor? flavor = null;
        string policy = name;
        if (name.EndsWith(PolicyTarget.PkvmSuffix, StringComparison.Ordinal))
            (policy, flavor) = (name[..^PolicyTarget.PkvmSuffix.Length], VmFlavor.Pkvm);
        else if (name.EndsWith(PolicyTarget.ProtectedSuffix, StringComparison.Ordinal))
            (policy, flavor) = (name[..^PolicyTarget.ProtectedSuffix.Length], VmFlavor.ProtectedPkvm);
        if (Find(policy) is not { } d)
            return null;
        if (flavor is { } f && !d.Create().Supports(f))
            return null;
        return new PolicyTarget(d, flavor);
    }

    /// <summary>Kernels and proposals: what a scenario compares by default and what a script may name.</summary>
    public static IReadOnlyList<string> ComparedNames { get; } = [.. All.Where(p => p.Kind != PolicyKind.BuggyVariant).Select(p => p.Name)];

    /// <summary>The newest kernel: the default where one policy is run (never a proposal or a variant).</summary>
    public static PolicyDescriptor NewestKernel { get; } = All.Last(p => p.Kind == PolicyKind.Kernel);

    public static PolicyDescriptor? Find(string name)
    {
        foreach (PolicyDescriptor p in All)
        {
            if (p.Name == name)
                return p;
        }
        return null;
    }

    /// <summary>A new policy object called <paramref name="name"/>.</summary>
    public static FaultPolicy Create(string name) =>
        (Find(name) ?? throw new ArgumentException($"unknown policy '{name}'", nameof(name))).Create();

    /// <summary>The position in comparison order (unknown names last).</summary>
    public static int OrderOf(string name)
    {
        for (int i = 0; i < All.Count; i++)
        {
            if (All[i].Name == name)
                return i;
        }
        return int.MaxValue;
    }
}
