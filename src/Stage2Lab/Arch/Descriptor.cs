namespace Stage2Lab.Arch;

/// <summary>
/// One VMSAv8-64 stage-2 descriptor as KVM writes it (4K/16K/64K, no LPA2): a value type over the raw ulong.
/// Field positions: KVM_PTE_* in arch/arm64/include/asm/kvm_pgtable.h.
/// </summary>
public readonly struct Descriptor : IEquatable<Descriptor>
{
    public const ulong ValidBit = 1UL << 0;
    public const ulong TypeBit = 1UL << 1;               // KVM_PTE_TYPE: table/page = 1, block = 0
    public const int MemAttrShift = 2;                     // KVM_PTE_LEAF_ATTR_LO_S2_MEMATTR GENMASK(5, 2)
    public const ulong MemAttrMask = 0xFUL << MemAttrShift;
    public const ulong S2apR = 1UL << 6;                 // KVM_PTE_LEAF_ATTR_LO_S2_S2AP_R
    public const ulong S2apW = 1UL << 7;                 // KVM_PTE_LEAF_ATTR_LO_S2_S2AP_W
    public const ulong ShInner = 3UL << 8;               // KVM_PTE_LEAF_ATTR_LO_S2_SH_IS
    public const ulong ShMask = 3UL << 8;
    public const ulong AccessFlag = 1UL << 10;           // KVM_PTE_LEAF_ATTR_LO_S2_AF
    public const ulong Dbm = 1UL << 51;
    public const ulong Contiguous = 1UL << 52;
    public const ulong XnMask = 3UL << 53;               // KVM_PTE_LEAF_ATTR_HI_S2_XN GENMASK(54, 53)
    public const ulong XnNone = 2UL << 53;               // xn = 0b10: execute-never at EL1 and EL0
    public const ulong SoftwareMask = 0xFUL << 55;       // KVM_PTE_LEAF_ATTR_HI_SW GENMASK(58, 55)
    public const ulong LeafAttrLo = 0x3FFUL << 2;        // KVM_PTE_LEAF_ATTR_LO GENMASK(11, 2)
    public const ulong LeafAttrHi = 0x3FFFUL << 50;      // KVM_PTE_LEAF_ATTR_HI GENMASK(63, 50)
    public const ulong PermsMask = S2apR | S2apW | XnMask; // KVM_PTE_LEAF_ATTR_S2_PERMS

    /// <summary>KVM_INVALID_PTE_LOCKED: the marker a break-before-make writes while the entry is being replaced.</summary>
    public const ulong LockedMarker = 1UL << 10;

    public Descriptor(ulong raw) => Raw = raw;

    public ulong Raw { get; }

    public bool IsValid => (Raw & ValidBit) != 0;

    public bool IsZero => Raw == 0;

    /// <summary>kvm_pte_table: a valid entry with the type bit set, below the last level.</summary>
    public bool IsTable(int level) => level < Granule.LastLevel && (Raw & (ValidBit | TypeBit)) == (ValidBit | TypeBit);

    /// <summary>A valid entry that maps memory (block or page).</summary>
    public bool IsLeaf(int level) => IsValid && !IsTable(level);

    /// <summary>KVM_PTE_ADDR_MASK GENMASK(47, PAGE_SHIFT): output address of a leaf or next-level table.</summary>
    public ulong OutputAddress(Granule granule) => Raw & AddressMask(granule);

    public uint MemAttrField => (uint)((Raw & MemAttrMask) >> MemAttrShift);

    public bool Readable => (Raw & S2apR) != 0;

    public bool Writable => (Raw & S2apW) != 0;

    public bool AccessFlagSet => (Raw & AccessFlag) != 0;

    /// <summary>XN[1:0] (FEAT_XNX layout): 0b00 executable at EL1 and EL0.</summary>
    public uint XnField => (uint)((Raw & XnMask) >> 53);

    /// <summary>stage2_pte_executable: valid with XN clear (bit 54 and 53 both zero).</summary>
    public bool Executable => IsValid && (Raw & XnMask) == 0;

    /// <summary>kvm_pgtable_stage2_pte_prot: R/W/X of a leaf (memory type is not part of it).</summary>
    public Prot LeafProt
    {
        get
        {
            if (!IsValid)
                return Prot.None;
            Prot prot = Prot.None;
            if (Readable) prot |= Prot.R;
            if (Writable) prot |= Prot.W;
            if (XnField == 0) prot |= Prot.X;
            return prot;
        }
    }

    public static ulong AddressMask(Granule granule) => ((1UL << 48) - 1) & granule.PageMask;

    /// <summary>kvm_init_table_pte: valid | table | next-level address.</summary>
    public static Descriptor Table(ulong tablePa, Granule granule) => new((tablePa & AddressMask(granule)) | TypeBit | ValidBit);

    /// <summary>kvm_init_valid_leaf_pte: address, the attribute bits, page type at the last level, valid.</summary>
    public static Descriptor Leaf(ulong pa, ulong attr, int level, Granule granule)
    {
        ulong raw = (pa & AddressMask(granule)) | (attr & (LeafAttrLo | LeafAttrHi)) | ValidBit;
        if (level == Granule.LastLevel)
            raw |= TypeBit;
        return new Descriptor(raw);
    }

    public bool Equals(Descriptor other) => Raw == other.Raw;

    public override bool Equals(object? obj) => obj is Descriptor other && Equals(other);

    public override int GetHashCode() => Raw.GetHashCode();

    public static bool operator ==(Descriptor left, Descriptor right) => left.Raw == right.Raw;

    public static bool operator !=(Descriptor left, Descriptor right) => left.Raw != right.Raw;

    public override string ToString() => "0x" + Raw.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
}
