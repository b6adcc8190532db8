using Stage2Lab.Host;

namespace Stage2Lab.Kvm.Policies;

/// <summary>
/// Changes a careless patch to v6.18 could make, each dropping one safeguard the review thread insisted on.
/// They exist so the invariant checker and the fuzzer can show that they catch each one; none is a kernel.
/// </summary>
internal static class BuggyVariants
{
    /// <summary>The variants are v6.18 with one safeguard removed, for ordinary VMs only.</summary>
    internal abstract class Variant : V6_18Policy
    {
        public override bool Supports(VmFlavor flavor) => flavor == VmFlavor.Kvm;
    }

    /// <summary>v6.18 without one of the seed's two PFNMAP points.</summary>
    internal sealed class PfnMapCheckVariant(string name, PfnMapChecks checks) : Variant
    {
        public override string Name => name;

        protected override int VmaPageShift(in FaultContext ctx, Vma vma) =>
            vma.IsPfnMap && !vma.IsHugetlb
                ? KernelRules.PfnMapBlockShift(in ctx, vma, KernelFunctions.GetVmaPageShift + " (variant)", checks)
                : base.VmaPageShift(in ctx, vma);

        /// <summary>Without the hva ≡ pa test, a patch that treats the block like a THP aligns the pfn down.</summary>
        protected override ulong BlockPa(ulong pa, ulong sizeBytes) =>
            (checks & PfnMapChecks.PaAlignment) == 0 ? pa & ~(sizeBytes - 1) : pa;
    }

    /// <summary>v6.18 where dirty logging does not force page mappings.</summary>
    internal sealed class LoggingBlocksVariant : Variant
    {
        public override string Name => "bug-log-blocks";

        protected override bool LoggingForcesPages => false;
    }
}
