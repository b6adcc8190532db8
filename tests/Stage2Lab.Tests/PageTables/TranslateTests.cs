using Stage2Lab.Arch;
using Stage2Lab.PageTables;
using static Stage2Lab.Tests.PageTables.PageTableKit;

namespace Stage2Lab.Tests.PageTables;

/// <summary>The hardware walk: faults and their levels, and the access flag set by hardware.</summary>
public class TranslateTests
{
    /// <summary>4K, 40-bit IPA (start level 1, two concatenated root pages) with one page mapped at IPA 0.</summary>
    private static Stage2PageTable OnePageAtZero()
    {
        var pgt = NewTable("4K", 40);
        Assert.Equal(0, pgt.Map(0, 4 * K, 1UL << 40, "rw"));
        return pgt;
    }

    [Theory]
    [InlineData(0x1000UL, 3)]            // same L3 table, invalid entry
    [InlineData(0x20_0000UL, 2)]         // same L2 table, no L3 table there
    [InlineData(0x4000_0000UL, 1)]       // root entry invalid
    [InlineData(0x80_0000_0000UL, 1)]    // second concatenated root page, untouched
    [InlineData(0xFF_FFFF_F000UL, 1)]    // last page of the IPA space
    public void Translation_fault_is_reported_at_the_level_of_the_invalid_entry(ulong ipa, int level)
    {
        var pgt = OnePageAtZero();

        foreach (AccessKind kind in new[] { AccessKind.Read, AccessKind.Write, AccessKind.Exec })
        {
            Translation t = pgt.Translate(ipa, kind);
            Assert.Equal((TranslationOutcome.TranslationFault, level), (t.Outcome, t.Level));
        }
    }

    [Theory]
    [InlineData(1UL << 40)]
    [InlineData((1UL << 40) + 0x1000)]
    [InlineData(ulong.MaxValue)]
    public void Address_at_or_beyond_the_ipa_size_is_an_address_size_fault(ulong ipa)
    {
        var pgt = OnePageAtZero();

        Translation t = pgt.Translate(ipa, AccessKind.Read);

        Assert.Equal(TranslationOutcome.AddressSizeFault, t.Outcome);
        Assert.Equal(TranslationOutcome.AddressSizeFault, pgt.Access(ipa, AccessKind.Read).Outcome);
    }

    [Theory]
    [InlineData("r", AccessKind.Read, TranslationOutcome.Mapped)]
    [InlineData("r", AccessKind.Write, TranslationOutcome.PermissionFault)]
    [InlineData("r", AccessKind.Exec, TranslationOutcome.PermissionFault)]     // XN = 0b10
    [InlineData("rx", AccessKind.Exec, TranslationOutcome.Mapped)]
    [InlineData("w", AccessKind.Read, TranslationOutcome.PermissionFault)]
    [InlineData("w", AccessKind.Write, TranslationOutcome.Mapped)]
    [InlineData("rwd", AccessKind.Exec, TranslationOutcome.PermissionFault)]
    [InlineData("-", AccessKind.Read, TranslationOutcome.PermissionFault)]
    public void Permission_fault_is_reported_at_the_leaf_level_with_the_leaf(string prot, AccessKind kind, TranslationOutcome outcome)
    {
        var pgt = NewTable("4K", 40);
        const ulong blockIpa = 0x4000_0000 + 2 * 0x20_0000, pa = 1UL << 40;
        Assert.Equal(0, pgt.Map(blockIpa, 2 * M, pa, prot));
        const ulong ipa = blockIpa + 0x12_3456;

        Translation t = pgt.Translate(ipa, kind);

        Assert.Equal(outcome, t.Outcome);
        Assert.Equal(2, t.Level);
        Assert.Equal(2 * M, t.SizeBytes);
        Assert.Equal(pa + 0x12_3456, t.Pa);
        Assert.Equal(blockIpa, t.LeafIpa(ipa));
        Assert.Equal(LeafDescriptor(pa, 2, prot), t.Leaf.Raw);
    }

    [Fact]
    public void Access_sets_the_access_flag_as_hardware_does_without_a_descriptor_write()
    {
        var pgt = NewTable("4K", 40);
        Assert.Equal(0, pgt.Map(2 * M, 4 * K, 1UL << 40, "r"));
        Assert.True(pgt.TestClearYoung(2 * M, 4 * K, mkold: true));
        Assert.Equal(LeafDescriptor(1UL << 40, 3, "r", af: false), EntryAt(pgt, 2 * M, 3));
        Stage2Counters before = pgt.Counters;

        // A faulting access (write to a read-only page) does not set AF...
        Assert.Equal(TranslationOutcome.PermissionFault, pgt.Access(2 * M + 8, AccessKind.Write).Outcome);
        Assert.Equal(LeafDescriptor(1UL << 40, 3, "r", af: false), EntryAt(pgt, 2 * M, 3));

        // ...a permitted one does, and KVM wrote nothing: no counter moves.
        Translation t = pgt.Access(2 * M + 8, AccessKind.Read);
        Assert.Equal((TranslationOutcome.Mapped, 3, (1UL << 40) + 8), (t.Outcome, t.Level, t.Pa));
        Assert.Equal(LeafDescriptor(1UL << 40, 3, "r"), EntryAt(pgt, 2 * M, 3));
        AssertCounters(pgt.Counters - before);
        Assert.True(pgt.TestClearYoung(2 * M, 4 * K, mkold: false));
    }

    [Fact]
    public void Mkold_and_mkyoung_toggle_AF_on_whole_leaves_and_mkold_issues_no_TLBI()
    {
        var pgt = NewTable("4K", 40);
        Assert.Equal(0, pgt.Map(2 * M, 2 * M, 1UL << 40, "rw"));
        Stage2Counters before = pgt.Counters;

        Assert.True(pgt.TestClearYoung(2 * M + 4 * K, 4 * K, mkold: true));

        Assert.Equal(LeafDescriptor(1UL << 40, 2, "rw", af: false), EntryAt(pgt, 2 * M, 2));
        AssertCounters(pgt.Counters - before, (Stage2Counter.DescriptorWrites, 1));
        Assert.False(pgt.TestClearYoung(2 * M, 2 * M, mkold: false));

        pgt.MkYoung(2 * M + 0x1F_F000);

        Assert.Equal(LeafDescriptor(1UL << 40, 2, "rw"), EntryAt(pgt, 2 * M, 2));
    }
}
