namespace Stage2Lab.Arch;

/// <summary>The stage-2 memory type KVM writes into MemAttr[3:0] (MT_S2_* and MT_S2_FWB_* in asm/memory.h).</summary>
public enum MemoryType : byte
{
    Normal,
    NormalNonCacheable,
    DeviceNGnRE,
}

public static class MemAttr
{
    // Without FEAT_S2FWB the field is an attribute: MT_S2_NORMAL 0xf, MT_S2_NORMAL_NC 0x5, MT_S2_DEVICE_nGnRE 0x1.
    // With FWB it is a combining rule: MT_S2_FWB_NORMAL 6, MT_S2_FWB_NORMAL_NC 5, MT_S2_FWB_DEVICE_nGnRE 1.
    public static uint Encode(MemoryType type, bool fwb) => type switch
    {
        MemoryType.Normal => fwb ? 0x6u : 0xFu,
        MemoryType.NormalNonCacheable => 0x5u,
        _ => 0x1u,
    };

    /// <summary>The memory type of a MemAttr value KVM writes, or null for an encoding KVM never writes.</summary>
    public static MemoryType? Decode(uint memAttr, bool fwb) => memAttr switch
    {
        0x5 => MemoryType.NormalNonCacheable,
        0x1 => MemoryType.DeviceNGnRE,
        0xF when !fwb => MemoryType.Normal,
        0x6 when fwb => MemoryType.Normal,
        _ => null,
    };

    public static MemoryType FromProt(Prot prot) =>
        (prot & Prot.Device) != 0 ? MemoryType.DeviceNGnRE
        : (prot & Prot.NormalNC) != 0 ? MemoryType.NormalNonCacheable
        : MemoryType.Normal;
}
