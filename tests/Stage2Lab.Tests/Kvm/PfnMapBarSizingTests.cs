using Stage2Lab.Arch;
using static Stage2Lab.Tests.Kvm.FaultScripts;

namespace Stage2Lab.Tests.Kvm;

/// <summary>
/// VM_PFNMAP BARs on a 4K granule under every policy, expectations derived by hand from the kernel rules:
/// v5.9/v5.13 map the whole VMA page by page at slot creation (kvm_phys_addr_ioremap) so accesses hit;
/// seed-v3 (device_rough_page_shift), v5.14 and v6.18 (get_vma_page_shift) size the block from vm_pgoff;
/// host-pte never maps more than the host's own leaf (PAGE, or PMD with `pmd`).
/// Host: RAM [0x8000_0000, 0x4_8000_0000); BARs live at PA 0x20_0000_0000 (pgoff 0x2000000) and above.
/// </summary>
public class PfnMapBarSizingTests
{
    public static TheoryData<string> Policies() => new(AllPolicies);

    private const string Bar1G = """
        granule 4K
        policy POLICY
        ram 0x80000000 16G
        vma 0x7f0000000000 1G pfnmap 0x2000000 pmd
        slot 0 0x8000000000 1G 0x7f0000000000
        access 0x8000123000 r
        access 0x803ffff000 w
        """;

    [Theory]
    [MemberData(nameof(Policies))]
    public void Bar_whose_hva_and_pa_agree_modulo_1G(string policy)
    {
        string[] expected = policy switch
        {
            // hva 0x7f0000123000 ≡ pa 0x2000123000 ≡ 0x123000 (mod 1G), ALIGN_DOWN/ALIGN(hva, 1G) = the VMA bounds,
            // slot IPA/HVA both 1G-aligned and the block fits the slot: one PUD block from the block's first pfn.
            "v6.18" or "v7.4" or "v5.14" or "seed-v3" =>
            [
                "slot 5 ok",
                "access 6 tfL1 -> map 0x8000000000 0x40000000 0x2000000000 rwd", // empty table: walk stops at L1; 1G device block, R+W (shared writable VMA), device
                "access 7 hit", // the 1G block is writable and covers 0x803ffff000
            ],
            // the host maps this `pmd` BAR with 2M leaves (never PUD for pfnmap): 2M blocks only.
            "host-pte" =>
            [
                "slot 5 ok",
                "access 6 tfL1 -> map 0x8000000000 0x200000 0x2000000000 rwd", // host leaf is 2M: block [0x7f0000000000, +2M) -> PA 0x2000000000
                "access 7 tfL2 -> map 0x803fe00000 0x200000 0x203fe00000 rwd", // L1 table exists, L2 entry empty; last 2M of the BAR
            ],
            // kvm_arch_prepare_memory_region mapped all 262144 pages at creation: nothing faults.
            _ =>
            [
                "slot 5 ok",
                "access 6 hit", // page 0x8000123000 was mapped rw device at creation
                "access 7 hit", // so was the last page
            ],
        };
        AssertLines(expected, Run(Bar1G, policy));
    }

    [Theory]
    [InlineData("v5.13")]
    [InlineData("v5.9")]
    public void Pre_5_14_maps_the_whole_bar_page_by_page_at_slot_creation(string policy)
    {
        Run(Bar1G, policy, out var vm);
        var leaves = Leaves(vm);
        Assert.Equal(262144, leaves.Count); // 1G / 4K pages, one kvm_pgtable_stage2_map per page
        Assert.All(leaves, l => Assert.Equal(3, l.Level)); // all L3 pages, never a block
        Assert.Equal(0x8000000000UL, leaves[0].Ipa); // first page at the slot's IPA
        Assert.Equal(0x803ffff000UL, leaves[^1].Ipa); // last page at IPA + 1G - 4K
        var t = vm.Stage2.Translate(0x803ffff000, AccessKind.Write);
        Assert.True(t.IsMapped); // prot R|W (slot not READONLY)
        Assert.Equal(0x203ffff000UL, t.Pa); // PA from vm_pgoff: 0x2000000000 + (hva - vm_start)
        Assert.Equal(0x1u, vm.Stage2.Translate(0x8000000000, AccessKind.Read).Leaf.MemAttrField); // MT_S2_DEVICE_nGnRE = 0x1
        Assert.Equal(Stage2Lab.Kvm.FaultStatus.Permission, vm.Access(0x8000000000, AccessKind.Exec).Status); // device pages are XN: fetch is a permission fault
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Bar_whose_hva_and_pa_agree_only_modulo_2M(string policy)
    {
        const string script = """
            granule 4K
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0040000000 1G pfnmap 0x2000400
            slot 0 0x8000000000 1G 0x7f0040000000
            access 0x8000345000 w
            access 0x803ff00000 r
            """;
        string[] expected = policy switch
        {
            // hva ≡ 0x345000 but pa 0x2000745000 ≡ 0x745000 (mod 1G): PUD refused; both ≡ 0x145000 (mod 2M): PMD.
            "v6.18" or "v7.4" or "v5.14" or "seed-v3" =>
            [
                "slot 5 ok",
                "access 6 tfL1 -> map 0x8000200000 0x200000 0x2000600000 rwd", // block IPA 0x8000200000 <- hva 0x7f0040200000 <- pa 0x2000400000 + 0x200000
                "access 7 tfL2 -> map 0x803fe00000 0x200000 0x2040200000 rwd", // last 2M: pa 0x2000400000 + 0x3fe00000
            ],
            // host maps 4K PTEs (no `pmd`): pages, PA straight from the host.
            "host-pte" =>
            [
                "slot 5 ok",
                "access 6 tfL1 -> map 0x8000345000 0x1000 0x2000745000 rwd", // pa = 0x2000400000 + 0x345000
                "access 7 tfL2 -> map 0x803ff00000 0x1000 0x2040300000 rwd", // pa = 0x2000400000 + 0x3ff00000
            ],
            _ => ["slot 5 ok", "access 6 hit", "access 7 hit"], // mapped page by page at creation
        };
        AssertLines(expected, Run(script, policy));
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Bar_whose_hva_and_pa_do_not_agree_gets_pages(string policy)
    {
        const string script = """
            granule 4K
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 8M pfnmap 0x2000003
            slot 0 0x8000000000 8M 0x7f0000000000
            access 0x8000201000 r
            access 0x8000201000 w
            """;
        string[] expected = policy is "v5.13" or "v5.9"
            ? ["slot 5 ok", "access 6 hit", "access 7 hit"] // mapped page by page at creation
            :
            [
                "slot 5 ok",
                // hva ≡ 0x1000 but pa 0x2000204000 ≡ 0x4000 (mod 2M), and ALIGN(hva, 1G) > vm_end: PAGE_SIZE for every policy
                "access 6 tfL1 -> map 0x8000201000 0x1000 0x2000204000 rwd",
                "access 7 hit", // the page is already writable (read fault on a writable slot maps rw)
            ];
        AssertLines(expected, Run(script, policy));
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Block_that_would_cross_the_vma_end(string policy)
    {
        // The memslot (4M) is larger than the VMA (3M); [3M, 4M) has no VMA (the seed's point 2).
        const string script = """
            granule 4K
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 3M pfnmap 0x2000000 pmd
            slot 0 0x8000000000 4M 0x7f0000000000
            access 0x8000000000 r
            access 0x8000201000 r
            access 0x8000200000 r
            access 0x8000380000 r
            """;
        string[] expected = policy switch
        {
            "v6.18" or "v7.4" or "v5.14" or "seed-v3" =>
            [
                "slot 5 ok",
                // hva 0x7f0000000000 is 1G-aligned: ALIGN(hva, 1G) == hva <= vm_end passes (literal test), but the 1G
                // block is not inside the 4M slot, so PMD; [0, 2M) lies inside the VMA.
                "access 6 tfL1 -> map 0x8000000000 0x200000 0x2000000000 rwd",
                // second page of the chunk: ALIGN(0x7f0000201000, 2M) = 0x7f0000400000 > vm_end 0x7f0000300000: PAGE
                "access 7 tfL2 -> map 0x8000201000 0x1000 0x2000201000 rwd",
                // first page: ALIGN(hva, 2M) == hva <= vm_end, block inside the slot: a 2M block reaching 1M past vm_end
                "access 8 tfL3 -> map 0x8000200000 0x200000 0x2000200000 rwd",
                // the guest now reaches the hole [3M, 4M) that no VMA maps
                "access 9 hit",
            ],
            "host-pte" =>
            [
                "slot 5 ok",
                "access 6 tfL1 -> map 0x8000000000 0x200000 0x2000000000 rwd", // host PMD leaf for [0, 2M) (inside the VMA, PA 2M-aligned)
                "access 7 tfL2 -> map 0x8000201000 0x1000 0x2000201000 rwd", // [2M, 4M) crosses vm_end: host maps 4K
                "access 8 tfL3 -> map 0x8000200000 0x1000 0x2000200000 rwd", // still 4K: never past the host leaf
                "access 9 tfL3 -> error EFAULT", // hva 0x7f0000380000 has no VMA: vma_lookup fails
            ],
            _ =>
            [
                "slot 5 ok",
                "access 6 hit", // the 768 pages of the VMA were mapped at creation
                "access 7 hit",
                "access 8 hit",
                "access 9 tfL3 -> error EFAULT", // the hole was not mapped; no VMA at fault time
            ],
        };
        AssertLines(expected, Run(script, policy));
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Block_that_would_cross_the_memslot_end(string policy)
    {
        const string script = """
            granule 4K
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 1G pfnmap 0x2000000
            slot 0 0x8000000000 3M 0x7f0000000000
            access 0x8000200000 r
            access 0x8000000000 w
            access 0x8000300000 r
            """;
        string[] expected = policy switch
        {
            "v6.18" or "v7.4" or "v5.14" or "seed-v3" or "host-pte" =>
            [
                "slot 5 ok",
                // VMA allows PUD; fault_supports_stage2_huge_mapping: [0, 1G) and [2M, 4M) both leave the 3M slot: PAGE
                "access 6 tfL1 -> map 0x8000200000 0x1000 0x2000200000 rwd",
                // [0, 2M) lies inside the slot: PMD (host-pte: the host maps 4K, so a page)
                policy == "host-pte"
                    ? "access 7 tfL2 -> map 0x8000000000 0x1000 0x2000000000 rwd"
                    : "access 7 tfL2 -> map 0x8000000000 0x200000 0x2000000000 rwd",
                "access 8 tfL3 -> mmio", // IPA 0x8000300000 is past the slot: no memslot, KVM_EXIT_MMIO
            ],
            _ =>
            [
                "slot 5 ok",
                "access 6 hit", // the slot's 768 pages were mapped at creation
                "access 7 hit",
                "access 8 tfL3 -> mmio", // outside the slot
            ],
        };
        AssertLines(expected, Run(script, policy));
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Slot_ipa_and_hva_misaligned(string policy)
    {
        // slot 0: IPA ≡ 1M but HVA ≡ 0 (mod 2M): no blocks.  slot 1 (same HVA): IPA ≡ 2M (mod 1G) but ≡ 0 (mod 2M).
        const string script = """
            granule 4K
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 1G pfnmap 0x2000000
            slot 0 0x8000100000 256M 0x7f0000000000
            slot 1 0x8080200000 256M 0x7f0000000000
            access 0x8000100000 r
            access 0x8080200000 r
            access 0x8080745000 w
            """;
        string[] expected = policy switch
        {
            "v6.18" or "v7.4" or "v5.14" or "seed-v3" =>
            [
                "slot 5 ok",
                "slot 6 ok",
                "access 7 tfL1 -> map 0x8000100000 0x1000 0x2000000000 rwd", // residues 0x100000 vs 0 for both 1G and 2M: PAGE
                "access 8 tfL1 -> map 0x8080200000 0x200000 0x2000000000 rwd", // 1G refused by the slot (0x200000 vs 0), 2M allowed
                "access 9 tfL2 -> map 0x8080600000 0x200000 0x2000400000 rwd", // hva 0x7f0000545000: block hva 0x7f0000400000
            ],
            "host-pte" =>
            [
                "slot 5 ok",
                "slot 6 ok",
                "access 7 tfL1 -> map 0x8000100000 0x1000 0x2000000000 rwd",
                "access 8 tfL1 -> map 0x8080200000 0x1000 0x2000000000 rwd", // host maps 4K PTEs
                "access 9 tfL2 -> map 0x8080745000 0x1000 0x2000545000 rwd",
            ],
            _ => ["slot 5 ok", "slot 6 ok", "access 7 hit", "access 8 hit", "access 9 hit"], // both slots mapped at creation
        };
        AssertLines(expected, Run(script, policy));
    }
}
