namespace Stage2Lab.Arch;

/// <summary>
/// Builds the leaf attribute bits for a prot: stage2_set_prot_attr and stage2_set_xn_attr (v6.19 pgtable.c).
/// </summary>
public static class LeafAttributes
{
    /// <summary>Returns 0 and the attribute bits, or -EINVAL for a refused combination.</summary>
    public static int FromProt(Prot prot, bool fwb, out ulong attr)
    {
        attr = 0;
        if (prot.IsRefused())
            return -Errno.EINVAL;

        attr = (ulong)MemAttr.Encode(MemAttr.FromProt(prot), fwb) << Descriptor.MemAttrShift;
        // stage2_set_xn_attr: PX and UX together (our X) give XN = 0b00, neither gives 0b10.
        if ((prot & Prot.X) == 0)
            attr |= Descriptor.XnNone;
        if ((prot & Prot.R) != 0)
            attr |= Descriptor.S2apR;
        if ((prot & Prot.W) != 0)
            attr |= Descriptor.S2apW;
        attr |= Descriptor.ShInner | Descriptor.AccessFlag;
        return 0;
    }
}
