using Stage2Lab.Host;

namespace Stage2Lab.Kvm.Policies;

/// <summary>
/// Changes a careless patch to v6.18 could make, each dropping one safeguard the review thread insisted on.
/// They exist so the invariant checker and the fuzzer can show that they catch each one; none is a kernel.
/// </summary>
public static class BuggyVariants
{
    public static IReadOnlyList<string> Names { get; } = ["bug-no-pa-align", "bug-no-vma-bound", "bug-log-blocks"];

    public static FaultPolicy? TryGet(string name) => name switch
    {
        "bug-no-pa-align" => new PfnMapCheckVariant(name, PfnMapChecks.VmaBounds, "v6.18 without the seed's first point: PFNMAP blocks without checking hva ≡ pa, the pfn aligned down as for a THP"),
        "bug-no-vma-bound" => new PfnMapCheckVariant(name, PfnMapChecks.PaAlignment, "v6.18 without the seed's second point: PFNMAP blocks without checking the VMA bounds"),
        "bug-log-blocks" => new LoggingBlocksVariant(),
        _ => null,
    };

    private sealed class PfnMapCheckVariant : V6_18Policy
    {
        private readonly string _name;
        private readonly PfnMapChecks _checks;
        private readonly string _description;

        public PfnMapCheckVariant(string name, PfnMapChecks checks, string description)
        {
            _name = name;
            _checks = checks;
            _description = description;
        }

        public override string Name => _name;

        public override string Description => _description;

        protected override int VmaShift(KvmVm vm, Vma vma, ulong hva, DecisionRecord? x) =>
            vma.IsPfnMap && !vma.IsHugetlb
                ? KernelRules.PfnMapBlockShift(vm.HostConfig, vma, hva, "get_vma_page_shift (variant)", x, _checks)
                : base.VmaShift(vm, vma, hva, x);

        /// <summary>Without the hva ≡ pa test, a patch that treats the block like a THP aligns the pfn down.</summary>
        protected override ulong BlockPa(ulong pa, ulong sizeBytes) =>
            (_checks & PfnMapChecks.PaAlignment) == 0 ? pa & ~(sizeBytes - 1) : pa;
    }

    private sealed class LoggingBlocksVariant : V6_18Policy
    {
        public override string Name => "bug-log-blocks";

        public override string Description => "v6.18 where dirty logging does not force page mappings";

        protected override bool LoggingForcesPages => false;
    }
}
