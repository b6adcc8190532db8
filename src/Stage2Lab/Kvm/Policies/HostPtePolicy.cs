using Stage2Lab.Arch;
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

    public override string Description => "2025 proposal on v6.18: PFNMAP sized from the host page-table leaf, not vm_pgoff";

    protected override int VmaShift(KvmVm vm, Vma vma, ulong hva, DecisionRecord? x)
    {
        if (!vma.IsPfnMap)
            return base.VmaShift(vm, vma, hva, x);
        HostMapping mapping = vm.Host.Translate(vma, hva);
        int shift = System.Numerics.BitOperations.Log2(mapping.LeafSizeBytes);
        x?.Note("host page table", $"VM_PFNMAP: the host maps HVA 0x{hva:x} with a {SizeText.Format(mapping.LeafSizeBytes)} leaf (PA 0x{mapping.Pa:x}): at most that size");
        return shift;
    }
}
