using Stage2Lab.Arch;
using static Stage2Lab.Tests.Kvm.FaultScripts;

namespace Stage2Lab.Tests.Kvm;

/// <summary>
/// 16K and 64K granules: PMD 32M / 512M, PUD 64G / 4T (48-bit VA, PMD not folded), CONT_PTE 2M on both,
/// CONT_PMD 1G (16K) and 16G (64K). Stage-2 blocks exist only at level 2 there (KVM_PGTABLE_MIN_BLOCK_LEVEL 2),
/// so a PUD-size map becomes many level-2 blocks. The map IPA of a page-size mapping is only 4K-aligned (HPFAR).
/// </summary>
public class GranulePolicyTests
{
    public static TheoryData<string> Policies() => new(AllPolicies);

    public static TheoryData<string> LazyPolicies() => new("seed-v3", "v5.14", "v6.18", "host-pte");

    [Theory]
    [MemberData(nameof(Policies))]
    public void Granule_16K(string policy)
    {
        const string script = """
            granule 16K
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 64M pfnmap 0x800000
            vma 0x7f0010000000 1M pfnmap 0x800001
            vma 0x7f0040000000 1G hugetlb 1G 0x100000000
            vma 0x7f0080000000 4M hugetlb 2M 0x180000000
            vma 0x7f00c0000000 64M anon 0x200000000 thp
            slot 0 0x8000000000 64M 0x7f0000000000
            slot 1 0x8010000000 1M 0x7f0010000000
            slot 2 0x40000000 1G 0x7f0040000000
            slot 3 0x80000000 4M 0x7f0080000000
            slot 4 0xc0000000 64M 0x7f00c0000000
            access 0x8002345000 r
            access 0x8010009abc r
            access 0x42345678 w
            access 0x80212345 w
            access 0xc2345000 w
            """;
        // 40-bit IPA with 16K: 2 levels from L2 (16 concatenated roots), so an empty walk stops at L2.
        string[] slots = ["slot 9 ok", "slot 10 ok", "slot 11 ok", "slot 12 ok", "slot 13 ok"];
        string bar = policy switch
        {
            // PA 0x2000000000 (pgoff 0x800000 << 14); PUD 64G: ALIGN(hva, 64G) > vm_end; PMD 32M fits: 32M block
            "v6.18" or "v7.4" or "v5.14" or "seed-v3" => "access 14 tfL2 -> map 0x8002000000 0x2000000 0x2002000000 rwd",
            // host maps 16K PTEs: one page; HPFAR IPA 0x8002345000, pfn of 16K page 0x8002344000
            "host-pte" => "access 14 tfL2 -> map 0x8002345000 0x4000 0x2002344000 rwd",
            _ => "access 14 hit", // mapped page by page at creation (4096 16K pages)
        };
        string unalignedBar = policy switch
        {
            "v5.13" or "v5.9" => "access 15 hit",
            // v7.4 passes gfn_to_gpa(gfn) with the gfn aligned to the mapping size: the 16K page's IPA
            "v7.4" => "access 15 tfL2 -> map 0x8010008000 0x4000 0x200000c000 rwd",
            // PA 0x2000004000 ≢ hva (mod 32M): a 16K page; the printed IPA is the 4K-aligned fault IPA,
            // the PA is the 16K page's (ipa page 0x8010008000 -> hva 0x7f0010008000 -> 0x200000c000)
            _ => "access 15 tfL2 -> map 0x8010009000 0x4000 0x200000c000 rwd",
        };
        string[] rest = policy == "v5.9"
            ?
            [
                // no CONT_PMD fallback: 1G (shift 30) is neither PMD (25) nor PUD (36): 1G mapped from the 4K-aligned
                // fault IPA, PA of its 16K page — running 0x2344000 past the end of the 1G huge page and its slot
                "access 16 tfL2 -> map 0x42345000 0x40000000 0x102344000 rwx",
                "access 17 hit", // 0x80212000 (slot 3) was swallowed by that overrun
                "access 18 tfL2 -> map 0xc2000000 0x2000000 0x202000000 rwx", // THP: 32M
            ]
            :
            [
                "access 16 tfL2 -> map 0x42000000 0x2000000 0x102000000 rwx", // 1G hugetlb = CONT_PMD on 16K: 32M blocks
                policy == "v7.4"
                    ? "access 17 tfL2 -> map 0x80210000 0x4000 0x180210000 rwx" // v7.4: the 16K page's IPA
                    : "access 17 tfL2 -> map 0x80212000 0x4000 0x180210000 rwx", // 2M hugetlb = CONT_PTE on 16K: pages; IPA 4K-aligned
                "access 18 tfL2 -> map 0xc2000000 0x2000000 0x202000000 rwx", // THP is PMD size: 32M
            ];
        AssertLines([.. slots, bar, unalignedBar, .. rest], Run(script, policy));
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Granule_64K(string policy)
    {
        const string script = """
            granule 64K
            ipa-bits 42
            policy POLICY
            ram 0x80000000 64G
            vma 0x7f0000000000 1G pfnmap 0x200000
            vma 0x7f0080000000 4M hugetlb 2M 0x180000000
            vma 0x7f00a0000000 1G hugetlb 512M 0x200000000
            vma 0x7f0400000000 16G hugetlb 16G 0x400000000
            vma 0x7f0800000000 1G anon 0x800000000 thp
            slot 0 0x20000000000 1G 0x7f0000000000
            slot 1 0x80000000 4M 0x7f0080000000
            slot 2 0xa0000000 1G 0x7f00a0000000
            slot 4 0x800000000 1G 0x7f0800000000
            access 0x20030012345 r
            access 0x80237abc w
            access 0xcabcd000 w
            access 0x812345000 w
            slot 3 0x400000000 16G 0x7f0400000000
            access 0x42a345678 w
            """;
        // 42-bit IPA with 64K: 2 levels from L2 (one root page): an empty walk stops at L2.
        string[] expected =
        [
            "slot 10 ok",
            "slot 11 ok",
            "slot 12 ok",
            "slot 13 ok",
            policy switch
            {
                // PA 0x2000000000 (pgoff 0x200000 << 16); PUD 4T: hva ≢ pa (mod 4T); PMD 512M: ≡ 0x10012000, fits
                "v6.18" or "v7.4" or "v5.14" or "seed-v3" => "access 14 tfL2 -> map 0x20020000000 0x20000000 0x2020000000 rwd",
                "host-pte" => "access 14 tfL2 -> map 0x20030012000 0x10000 0x2030010000 rwd", // 64K host PTE; IPA 4K-aligned
                _ => "access 14 hit", // 16384 64K pages mapped at creation
            },
            policy switch
            {
                // no CONT_PTE fallback: 2M from the 4K-aligned fault IPA (not even 64K-aligned)
                "v5.9" => "access 15 tfL2 -> map 0x80237000 0x200000 0x180230000 rwx",
                "v7.4" => "access 15 tfL2 -> map 0x80230000 0x10000 0x180230000 rwx", // v7.4: the 64K page's IPA
                _ => "access 15 tfL2 -> map 0x80237000 0x10000 0x180230000 rwx", // 2M hugetlb = CONT_PTE: one 64K page
            },
            "access 16 tfL2 -> map 0xc0000000 0x20000000 0x220000000 rwx", // 512M hugetlb = PMD: 512M block (hva 0x7f00c0000000)
            "access 17 tfL2 -> map 0x800000000 0x20000000 0x800000000 rwx", // THP: host PMD leaf 512M
            "slot 18 ok",
            policy == "v5.9"
                // 16G = CONT_PMD: no fallback, 16G from the fault IPA (its 64K page's PA)
                ? "access 19 tfL2 -> map 0x42a345000 0x400000000 0x42a340000 rwx"
                : "access 19 tfL2 -> map 0x420000000 0x20000000 0x420000000 rwx", // CONT_PMD -> PMD: 512M block
        ];
        AssertLines(expected, Run(script, policy));
    }

    [Fact]
    public void V5_9_on_64K_maps_a_cont_pte_hugetlb_page_past_its_slot()
    {
        const string script = """
            granule 64K
            ipa-bits 42
            policy v5.9
            ram 0x80000000 16G
            vma 0x7f0080000000 4M hugetlb 2M 0x180000000
            slot 1 0x80000000 4M 0x7f0080000000
            access 0x80237abc w
            access 0x80410000 r
            """;
        string[] expected =
        [
            "slot 6 ok",
            "access 7 tfL2 -> map 0x80237000 0x200000 0x180230000 rwx", // 2M mapped from the faulting 64K page (0x80230000)
            "access 8 hit", // 0x80410000 is past the 4M slot, yet mapped by that overrun
        ];
        AssertLines(expected, Run(script));
    }

    [Theory]
    [MemberData(nameof(LazyPolicies))]
    public void Granule_16K_pud_64G_bar(string policy)
    {
        const string script = """
            granule 16K
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 64G pfnmap 0x1000000
            slot 0 0x1000000000 64G 0x7f0000000000
            access 0x1234567890 r
            access 0x1fffffc000 w
            """;
        string[] expected = policy == "host-pte"
            ?
            [
                "slot 5 ok",
                "access 6 tfL2 -> map 0x1234567000 0x4000 0x4234564000 rwd", // host maps 16K PTEs; pa = 0x4000000000 + 0x234564000
                "access 7 tfL2 -> map 0x1fffffc000 0x4000 0x4fffffc000 rwd", // last page: pa 0x4000000000 + 0xfffffc000
            ]
            :
            [
                "slot 5 ok",
                // PA 0x4000000000 (pgoff 0x1000000 << 14); hva ≡ pa (mod 64G), VMA and slot exactly one 64G block: PUD
                // size. Level-1 blocks are not allowed with 16K, so the map call installs 2048 32M level-2 blocks.
                "access 6 tfL2 -> map 0x1000000000 0x1000000000 0x4000000000 rwd",
                "access 7 hit", // last page of the 64G
            ];
        string[] lines = Run(script, policy, out var vm);
        AssertLines(expected, lines);
        if (policy != "host-pte")
        {
            var leaves = Leaves(vm);
            Assert.Equal(2048, leaves.Count); // 64G / 32M
            Assert.All(leaves, l => Assert.Equal(2, l.Level)); // all level-2 blocks
        }
    }

    [Theory]
    [MemberData(nameof(LazyPolicies))]
    public void Granule_64K_pud_4T_bar(string policy)
    {
        const string script = """
            granule 64K
            ipa-bits 44
            policy POLICY
            ram 0x80000000 16G
            vma 0x400000000000 4T pfnmap 0x40000000
            slot 0 0x40000000000 4T 0x400000000000
            access 0x40000012345 r
            access 0x7ffffff0000 w
            """;
        string[] expected = policy == "host-pte"
            ?
            [
                "slot 6 ok",
                "access 7 tfL2 -> map 0x40000012000 0x10000 0x400000010000 rwd", // one 64K page
                "access 8 tfL2 -> map 0x7ffffff0000 0x10000 0x43ffffff0000 rwd", // last page: PA 0x400000000000 + 4T - 64K
            ]
            :
            [
                "slot 6 ok",
                // PA 0x400000000000 (pgoff 0x40000000 << 16); VMA, PA, IPA all 4T-aligned and 4T long: PUD size;
                // with 64K the map call installs 8192 512M level-2 blocks
                "access 7 tfL2 -> map 0x40000000000 0x40000000000 0x400000000000 rwd",
                "access 8 hit",
            ];
        string[] lines = Run(script, policy, out var vm);
        AssertLines(expected, lines);
        if (policy != "host-pte")
            Assert.Equal(8192, Leaves(vm).Count); // 4T / 512M
    }

    [Fact]
    public void Folded_pmd_host_makes_no_pud_check()
    {
        // 64K pages with 42-bit VA: 2 host levels, __PAGETABLE_PMD_FOLDED: get_vma_page_shift skips the PUD test
        // and PUD_SHIFT == PMD_SHIFT (512M).
        var host = NewHost(Granule.Size64K, vaBits: 42);
        Assert.True(host.Config.PmdFolded); // (42 - 4) / 13 = 2 levels
        Assert.Equal(host.Config.PmdSize, host.Config.PudSize); // the folded PUD is the 512M level
        Assert.True(host.AddVma(PfnMap(0x20000000000, 1UL << 30, 0x200000)).Succeeded);
        var vm = NewVm(host, "v6.18", ipaBits: 42);
        Assert.True(vm.SetUserMemoryRegion(0, 0x20000000000, 1UL << 30, 0x20000000000, Stage2Lab.Kvm.MemslotFlags.None).Succeeded);
        var x = new Stage2Lab.Kvm.DecisionRecord();
        var r = vm.Access(0x20000000000, AccessKind.Read, x);
        Assert.Equal(0x20000000UL, r.SizeBytes); // 512M block
        Assert.DoesNotContain(x.Steps, s => Stage2Lab.Reports.DecisionText.Describe(s).StartsWith("4T", StringComparison.Ordinal)); // no PUD-size test at all
        Assert.Single(x.Steps, s => s.Function == "get_vma_page_shift" && s.Passed == true && Stage2Lab.Reports.DecisionText.Describe(s).StartsWith("512M", StringComparison.Ordinal));
    }
    [Theory]
    [MemberData(nameof(Policies))]
    public void Granule_4K_with_32_bit_ipa_has_no_level_1_so_a_1G_page_becomes_512_blocks(string policy)
    {
        // 4K, 32-bit IPA: 2 levels starting at L2 (4 concatenated roots), KVM_PGTABLE_MIN_BLOCK_LEVEL 1 is never
        // reached: the PUD-size map request installs 512 level-2 blocks.
        const string script = """
            granule 4K
            ipa-bits 32
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 1G hugetlb 1G 0x100000000
            slot 0 0x40000000 1G 0x7f0000000000
            access 0x40123000 w
            access 0x7ffff000 r
            """;
        string[] expected =
        [
            "slot 6 ok",
            "access 7 tfL2 -> map 0x40000000 0x40000000 0x100000000 rwx", // the walk starts (and stops) at L2; PUD-size request
            "access 8 hit", // last page of the GB
        ];
        AssertLines(expected, Run(script, policy, out var vm));
        var leaves = Leaves(vm);
        Assert.Equal(512, leaves.Count); // 1G / 2M
        Assert.All(leaves, l => Assert.Equal(2, l.Level));
    }
}
