using Stage2Lab.Host;

namespace Stage2Lab.Kvm.Policies;

/// <summary>
/// The direction proposed upstream in 2025 after Will Deacon called get_vma_page_shift() unsound for PFNMAP:
/// size a VM_PFNMAP mapping from the host page-table leaf that maps the HVA (never more contiguity than the
/// host itself maps), not from vm_pgoff. Everything else is v6.18.
/// </summary>
public sealed class HostPtePolicy : V6_18Policy
{
    public override string Name => "host-pte";

    /// <summary>A proposal, not a kernel: modelled for ordinary VMs only.</summary>
    public override bool Supports(VmFlavor flavor) => flavor == VmFlavor.Kvm;

    protected override int VmaPageShift(in FaultContext ctx, Vma vma)
    {
        if (!vma.IsPfnMap)
            return base.VmaPageShift(in ctx, vma);
        HostMapping mapping = ctx.Host.Translate(vma, ctx.Hva);
        ctx.Explain?.Add(new HostLeafSizeStep(ctx.Hva, mapping.LeafSizeBytes, mapping.Pa));
        return System.Numerics.BitOperations.Log2(mapping.LeafSizeBytes);
    }
}
