using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Invariants;
using Stage2Lab.Simulation.Scripts;
using static Stage2Lab.Tests.Invariants.InvariantTestKit;

namespace Stage2Lab.Tests.Invariants;

/// <summary>
/// The shared named goldens (the kernel's own fault paths) through the checker: which invariants each kernel
/// really breaks, file by file. Everything not listed keeps every invariant. The huge `.md5` goldens
/// (BARs mapped page by page at slot creation) are left out to keep the suite fast.
/// </summary>
public class GoldenInvariantTests
{
    private static readonly Dictionary<string, InvariantKind[]> KnownBreakers = new()
    {
        // Every kernel since 5.14: a memslot larger than its PFNMAP VMA; the first-page fault of a block passes
        // the literal ALIGN(hva, size) <= vm_end test and the block runs past the VMA.
        ["named-bar-vma-ends-mid-block"] = [InvariantKind.LeafInOneVma],
        ["named-munmap-bar"] = [InvariantKind.LeafInOneVma],
        ["v514-named-bar-vma-ends-mid-block"] = [InvariantKind.LeafInOneVma],
        ["v514-named-munmap-bar"] = [InvariantKind.LeafInOneVma],
        ["v514-named-bar-1g-populated-at-slot-creation"] = [InvariantKind.LeafInOneVma],
        ["seedv3-named-bar-vma-ends-mid-block"] = [InvariantKind.LeafInOneVma],
        ["seedv3-named-munmap-bar"] = [InvariantKind.LeafInOneVma],
        ["seedv3-named-bar-1g-populated-at-slot-creation"] = [InvariantKind.LeafInOneVma],
        // get_vma_page_shift trusts vm_pgoff over a VMA remapped in pieces (Will Deacon, 2025); v5.13 and v5.9
        // map PFNMAP at slot creation from vm_pgoff, ignoring the remap.
        ["named-pfnmap-remap-wrong-pa"] = [InvariantKind.PaMatchesHost],
        ["v514-named-pfnmap-remap-wrong-pa"] = [InvariantKind.PaMatchesHost],
        ["seedv3-named-pfnmap-remap-wrong-pa"] = [InvariantKind.PaMatchesHost],
        ["v513-named-pfnmap-remap-wrong-pa"] = [InvariantKind.PaMatchesHost],
        ["v59-named-pfnmap-remap-wrong-pa"] = [InvariantKind.PaMatchesHost],
        // v5.9: THP adjust on a device pfn (91a2c34b7d6f); contiguous hugetlb sizes mapped whole from the
        // faulting page, past the memslot's end (2f40c46021bb).
        ["v59-named-device-pfn-in-anon-vma"] = [InvariantKind.NoThpOnDevicePfn],
        ["v59-named-granule-16k"] = [InvariantKind.LeafInOneMemslot],
        ["v59-named-granule-64k"] = [InvariantKind.LeafInOneMemslot],
    };

    private static string[] NamedGoldenNames() =>
        Directory.EnumerateFiles(RepoPaths.FaultGolden, "*named-*.s2faults")
            .Where(file => File.Exists(Path.ChangeExtension(file, ".out")))
            .Select(file => Path.GetFileNameWithoutExtension(file))
            .Order(StringComparer.Ordinal)
            .ToArray();

    public static TheoryData<string> NamedGoldens() => new(NamedGoldenNames());

    [Theory]
    [MemberData(nameof(NamedGoldens))]
    public void Named_golden_breaks_exactly_its_known_invariants(string name)
    {
        using var source = ScriptSource.OpenFile(Path.Combine(RepoPaths.FaultGolden, name + ".s2faults"));
        List<InvariantViolation> found = ScriptInvariantObserver.Run(source, TextWriter.Null);
        SortedSet<InvariantKind> expected = new(KnownBreakers.GetValueOrDefault(name, []));
        Assert.True(expected.SetEquals(Kinds(found)), $"{name}: expected {{{string.Join(", ", expected)}}}, found:\n{string.Join("\n", found)}");
    }

    [Fact]
    public void Every_v6_18_named_golden_is_run()
    {
        string[] all = NamedGoldenNames();
        int v618 = all.Count(n => n.StartsWith("named-", StringComparison.Ordinal));
        Assert.True(v618 >= 17, $"expected the 17 v6.18 named goldens, found {v618}");
        foreach (string key in KnownBreakers.Keys)
            Assert.Contains(key, all);
    }

    [Theory]
    [MemberData(nameof(NamedGoldens))]
    public void Incremental_checks_find_what_a_full_check_after_every_event_finds(string name)
    {
        string path = Path.Combine(RepoPaths.FaultGolden, name + ".s2faults");
        using var incremental = ScriptSource.OpenFile(path);
        using var full = ScriptSource.OpenFile(path);
        List<InvariantViolation> a = ScriptInvariantObserver.Run(incremental, TextWriter.Null);
        List<InvariantViolation> b = ScriptInvariantObserver.Run(full, TextWriter.Null, checkAllAfterEachEvent: true);
        Assert.Equal(b.Select(v => (v.Kind, v.EventIndex, v.Ipa)), a.Select(v => (v.Kind, v.EventIndex, v.Ipa)));
    }

}
