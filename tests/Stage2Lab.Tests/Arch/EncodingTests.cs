using Stage2Lab.Arch;

namespace Stage2Lab.Tests.Arch;

public class EncodingTests
{
    // stage2-model.md §1.4: MemAttr per memory type, without and with FWB.
    [Theory]
    [InlineData(MemoryType.Normal, false, 0xFu)]
    [InlineData(MemoryType.Normal, true, 0x6u)]
    [InlineData(MemoryType.NormalNonCacheable, false, 0x5u)]
    [InlineData(MemoryType.NormalNonCacheable, true, 0x5u)]
    [InlineData(MemoryType.DeviceNGnRE, false, 0x1u)]
    [InlineData(MemoryType.DeviceNGnRE, true, 0x1u)]
    public void MemAttr_encodings(MemoryType type, bool fwb, uint expected)
    {
        Assert.Equal(expected, MemAttr.Encode(type, fwb));
        Assert.Equal(type, MemAttr.Decode(expected, fwb));
    }

    [Theory]
    [InlineData("rwxd")]
    [InlineData("rxn")]
    [InlineData("xd")]
    public void Refused_prot_combinations_give_EINVAL(string letters)
    {
        Assert.True(ProtExtensions.TryParseLetters(letters, out Prot prot, out _));
        Assert.Equal(-Errno.EINVAL, LeafAttributes.FromProt(prot, fwb: false, out _));
    }

    [Fact]
    public void Device_together_with_normal_nc_is_refused()
    {
        Assert.True((Prot.Device | Prot.NormalNC).IsRefused());
        Assert.False(ProtExtensions.TryParseLetters("rdn", out _, out _));
    }

    // Leaf descriptors seen in the golden vectors, built field by field.
    [Theory]
    [InlineData(0x40000000UL, "rwd", false, 2, 0x00400000400007c5UL)]   // device block, XN, rw
    [InlineData(0x60000000UL, "rx", false, 2, 0x000000006000077dUL)]    // normal WB, executable, read-only
    [InlineData(0x1762741000UL, "rw", true, 3, 0x00400017627417dbUL)]   // FWB normal page
    [InlineData(0xc0000000UL, "rwx", false, 3, 0x00000000c00007ffUL)]   // normal page, rwx
    public void Leaf_descriptor_bits(ulong pa, string letters, bool fwb, int level, ulong expected)
    {
        Assert.True(ProtExtensions.TryParseLetters(letters, out Prot prot, out _));
        Assert.Equal(0, LeafAttributes.FromProt(prot, fwb, out ulong attr));
        var leaf = Descriptor.Leaf(pa, attr, level, Granule.Size4K);
        Assert.Equal(expected, leaf.Raw);
        Assert.True(leaf.IsLeaf(level));
        Assert.Equal(pa, leaf.OutputAddress(Granule.Size4K));
        Assert.Equal(prot & Prot.RWX, leaf.LeafProt);
    }

    [Fact]
    public void Descriptor_fields_read_back()
    {
        var d = new Descriptor(0x0040001762741787UL);
        Assert.True(d.IsValid);
        Assert.True(d.IsLeaf(3));
        Assert.False(d.IsTable(3));
        Assert.Equal(0x1u, d.MemAttrField);
        Assert.False(d.Readable); // "wd" in golden 001: write-only device page
        Assert.True(d.Writable);
        Assert.True(d.AccessFlagSet);
        Assert.False(d.Executable);
        Assert.Equal(2u, d.XnField);
        var table = Descriptor.Table(0x4000_0000_1000UL, Granule.Size4K);
        Assert.True(table.IsTable(1));
        Assert.False(table.IsTable(3));
        Assert.Equal(3UL, table.Raw & 3);
    }

    [Theory]
    [InlineData("0x1000", 0x1000UL)]
    [InlineData("4K", 4096UL)]
    [InlineData("2M", 2UL << 20)]
    [InlineData("1G", 1UL << 30)]
    [InlineData("32G", 32UL << 30)]
    [InlineData("1T", 1UL << 40)]
    [InlineData("0x10K", 16UL << 10)]
    [InlineData("123", 123UL)]
    public void Numbers_accept_hex_decimal_and_suffixes(string text, ulong expected)
    {
        Assert.True(Stage2Lab.Arch.NumberText.TryParse(text, out ulong value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0x")]
    [InlineData("12Q")]
    [InlineData("0xfffffffffffffffff")]
    [InlineData("99999999999999999999")]
    [InlineData("0x10000000000000T")]
    public void Bad_numbers_are_refused(string text)
    {
        Assert.False(Stage2Lab.Arch.NumberText.TryParse(text, out _));
    }
}
