using Stage2Lab.Arch;
using Stage2Lab.PageTables;

namespace Stage2Lab.Tests.PageTables;

/// <summary>Helpers shared by the corner-case tests: building tables, reading raw entries through the real
/// table pages, comparing every counter at once, and descriptors built field by field from the spec.</summary>
internal static class PageTableKit
{
    public const ulong K = 1UL << 10, M = 1UL << 20, G = 1UL << 30;

    public static Granule GranuleOf(string name) =>
        Granule.TryParse(name, out Granule g) ? g : throw new ArgumentException(name, nameof(name));

    public static Stage2PageTable NewTable(string granule, int ipaBits, bool fwb = false, bool dic = true, bool rangeTlbi = false) =>
        new(GranuleOf(granule), ipaBits, new CpuFeatures(fwb, dic, rangeTlbi));

    public static Prot P(string letters) =>
        ProtExtensions.TryParseLetters(letters, out Prot prot, out string? error) ? prot : throw new ArgumentException(error, nameof(letters));

    public static int Map(this Stage2PageTable pgt, ulong ipa, ulong size, ulong pa, string prot) =>
        pgt.Map(ipa, size, pa, P(prot), MemoryCache.Unbounded());

    /// <summary>The id of the table page that holds the level-<paramref name="level"/> entry for ipa (walking
    /// the real descriptors from the concatenated root); fails if a table on the way is missing.</summary>
    public static int TableIdAt(Stage2PageTable pgt, ulong ipa, int level)
    {
        int id = pgt.RootId(pgt.Geometry.RootPageIndex(ipa));
        for (int l = pgt.Geometry.StartLevel; l < level; l++)
        {
            var pte = new Descriptor(pgt.Pool.Page(id)[pgt.Granule.IndexAt(ipa, l)]);
            Assert.True(pte.IsTable(l), $"no L{l + 1} table on the way to IPA 0x{ipa:x} (L{l} entry {pte})");
            id = pgt.Pool.IdOf(pte.OutputAddress(pgt.Granule));
        }
        return id;
    }

    public static Span<ulong> TableAt(Stage2PageTable pgt, ulong ipa, int level) => pgt.Pool.Page(TableIdAt(pgt, ipa, level));

    public static ulong EntryAt(Stage2PageTable pgt, ulong ipa, int level) =>
        TableAt(pgt, ipa, level)[pgt.Granule.IndexAt(ipa, level)];

    public static int RefCountAt(Stage2PageTable pgt, ulong ipa, int level) => pgt.Pool.EntryCount(TableIdAt(pgt, ipa, level));

    /// <summary>The table page a table descriptor at <paramref name="level"/> points to.</summary>
    public static int ChildOf(Stage2PageTable pgt, ulong ipa, int level)
    {
        var pte = new Descriptor(EntryAt(pgt, ipa, level));
        Assert.True(pte.IsTable(level), $"L{level} entry for 0x{ipa:x} is not a table: {pte}");
        return pgt.Pool.IdOf(pte.OutputAddress(pgt.Granule));
    }

    /// <summary>Every counter of the difference equals the expected value, or zero when not listed.</summary>
    public static void AssertCounters(Stage2Counters diff, params (Stage2Counter Counter, long Value)[] expected)
    {
        var want = new long[Stage2Counters.Count];
        foreach (var (counter, value) in expected)
            want[(int)counter] += value;
        var wrong = new List<string>();
        for (int i = 0; i < Stage2Counters.Count; i++)
        {
            var counter = (Stage2Counter)i;
            if (diff[counter] != want[i])
                wrong.Add($"{counter}: expected {want[i]}, got {diff[counter]}");
        }
        Assert.True(wrong.Count == 0, string.Join("; ", wrong));
    }

    /// <summary>The counter for a TLBI IPAS2E1IS with a level hint.</summary>
    public static Stage2Counter TlbiAt(int level) => Stage2Counter.TlbiIpas2e1isL0 + level;

    public static Stage2Counter LeavesAt(int level) => Stage2Counter.LeavesInstalledL0 + level;

    /// <summary>
    /// A leaf descriptor as stage2-model.md §1.3/§1.4 lay it out: valid, page type at L3, MemAttr (normal 0xF
    /// or 0x6 with FWB, NC 0x5, device 0x1), S2AP R/W, SH inner (3), AF, XN 0b10 unless executable.
    /// </summary>
    public static ulong LeafDescriptor(ulong pa, int level, string prot, bool fwb = false, bool af = true)
    {
        ulong memAttr = prot.Contains('d') ? 0x1UL : prot.Contains('n') ? 0x5UL : fwb ? 0x6UL : 0xFUL;
        return pa
            | 1UL
            | (level == 3 ? 1UL << 1 : 0)
            | memAttr << 2
            | (prot.Contains('r') ? 1UL << 6 : 0)
            | (prot.Contains('w') ? 1UL << 7 : 0)
            | 3UL << 8
            | (af ? 1UL << 10 : 0)
            | (prot.Contains('x') ? 0 : 2UL << 53);
    }

    public static List<LeafEntry> Leaves(Stage2PageTable pgt)
    {
        var sink = new LeafSink();
        pgt.VisitLeaves(ref sink);
        return sink.Items;
    }

    public static void AssertConsistent(Stage2PageTable pgt)
    {
        string? problem = TableAudit.Problems(pgt);
        Assert.True(problem is null, problem);
    }

    private struct LeafSink : ILeafSink
    {
        public LeafSink() => Items = [];

        public List<LeafEntry> Items;

        public readonly void OnLeaf(in LeafEntry leaf) => Items.Add(leaf);
    }
}
