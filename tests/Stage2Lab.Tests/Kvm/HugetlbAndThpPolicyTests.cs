using Stage2Lab.Arch;
using static Stage2Lab.Tests.Kvm.FaultScripts;

namespace Stage2Lab.Tests.Kvm;

/// <summary>
/// hugetlbfs (1G PUD, 32M CONT_PMD, 64K CONT_PTE on 4K pages), THP upgrades and their refusal for device memory,
/// under every policy. Expectations are derived by hand from the kernel's user_mem_abort of each version.
/// DIC is on (the default), so normal memory is mapped executable (prot rwx / rx).
/// </summary>
public class HugetlbAndThpPolicyTests
{
    public static TheoryData<string> Policies() => new(AllPolicies);

    [Theory]
    [MemberData(nameof(Policies))]
    public void Hugetlb_1G_falls_back_to_2M_then_pages_as_the_slot_allows(string policy)
    {
        const string script = """
            granule 4K
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 2G hugetlb 1G 0x100000000
            slot 0 0x40000000 1G 0x7f0000000000
            slot 1 0x80200000 1G 0x7f0040000000
            slot 2 0x100001000 256M 0x7f0040000000
            access 0x40123000 w
            access 0x80345000 r
            access 0x100002000 w
            """;
        // The same for every policy: PUD and PMD sizes are checked against the slot by all of them.
        string[] expected =
        [
            "slot 5 ok",
            "slot 6 ok",
            "slot 7 ok",
            "access 8 tfL1 -> map 0x40000000 0x40000000 0x100000000 rwx", // slot 0: IPA/HVA 1G-aligned, 1G page inside: PUD block
            "access 9 tfL1 -> map 0x80200000 0x200000 0x140000000 rwx", // slot 1: IPA ≡ 2M (mod 1G) vs HVA ≡ 0: PUD refused, PMD; hva 0x7f0040000000 -> PA 0x140000000
            "access 10 tfL1 -> map 0x100002000 0x1000 0x140001000 rwx", // slot 2: IPA ≡ 0x1000 (mod 2M): PAGE with force_pte; hva 0x7f0040001000
        ];
        AssertLines(expected, Run(script, policy));
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Hugetlb_32M_and_64K_contiguous_pages(string policy)
    {
        const string script = """
            granule 4K
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0002000000 64M hugetlb 32M 0x104000000
            vma 0x7f0020010000 256K hugetlb 64K 0x120030000
            slot 0 0x44000000 64M 0x7f0002000000
            slot 1 0x58010000 256K 0x7f0020010000
            access 0x44600000 r
            access 0x46400000 r
            access 0x58034000 w
            access 0x58040000 r
            access 0x58043000 r
            """;
        string[] expected = policy == "v5.9"
            ?
            [
                "slot 6 ok",
                "slot 7 ok",
                // no CONT fallback: vma_shift 25 is neither PMD nor PUD, fault_ipa is not aligned and 32M is mapped
                // from the faulting page: [0x44600000, 0x46600000), 6M past the end of the first 32M page
                "access 8 tfL1 -> map 0x44600000 0x2000000 0x104600000 rwx",
                "access 9 hit", // 0x46400000 was covered by that 32M map
                // 64K from the faulting page 0x58034000 (hva 0x7f0020034000, PA 0x120030000 + 0x24000): to 0x58044000
                "access 10 tfL2 -> map 0x58034000 0x10000 0x120054000 rwx",
                "access 11 hit", // 0x58040000 lies in the next 64K huge page but was mapped by the previous fault
                "access 12 hit", // 0x58043000 < 0x58044000
            ]
            :
            [
                "slot 6 ok",
                "slot 7 ok",
                "access 8 tfL1 -> map 0x44600000 0x200000 0x104600000 rwx", // CONT_PMD -> PMD: 2M block, hva 0x7f0002600000
                "access 9 tfL2 -> map 0x46400000 0x200000 0x106400000 rwx", // second 32M page, 2M block at offset 0x2400000
                "access 10 tfL2 -> map 0x58034000 0x1000 0x120054000 rwx", // CONT_PTE -> PAGE with force_pte
                "access 11 tfL3 -> map 0x58040000 0x1000 0x120060000 rwx", // offset 0x30000 in the VMA
                "access 12 tfL3 -> map 0x58043000 0x1000 0x120063000 rwx",
            ];
        AssertLines(expected, Run(script, policy));
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Thp_upgrades_a_page_fault_to_2M_only_where_the_host_maps_a_thp(string policy)
    {
        const string script = """
            granule 4K
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 8M anon 0x100000000 thp
            vma 0x7f0010000000 4M anon 0x110000000
            slot 0 0x40000000 8M 0x7f0000000000
            slot 1 0x50000000 4M 0x7f0010000000
            access 0x40345000 w
            access 0x40345000 r
            access 0x50345000 w
            """;
        // Every policy: v5.13/seed-v3/v5.9 by kvm_is_transparent_hugepage(pfn), v5.14/v6.18/host-pte by
        // get_user_mapping_size() = PMD_SIZE; fault_supports_stage2_huge_mapping(PMD) holds (IPA/HVA 2M-aligned).
        string[] expected =
        [
            "slot 6 ok",
            "slot 7 ok",
            "access 8 tfL1 -> map 0x40200000 0x200000 0x100200000 rwx", // IPA and pfn aligned down to 2M
            "access 9 hit",
            "access 10 tfL2 -> map 0x50345000 0x1000 0x110345000 rwx", // no THP in this VMA: the host maps 4K, so does stage 2
        ];
        AssertLines(expected, Run(script, policy));
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void No_thp_upgrade_for_device_memory_even_when_the_host_maps_it_with_a_pmd(string policy)
    {
        // vm_pgoff says PA 0x2000001000 (not 2M-congruent with the HVA), but the driver remapped the whole VMA at
        // PA 0x2000000000, which the host maps with 2M leaves (huge pfnmap).
        const string script = """
            granule 4K
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 4M pfnmap 0x2000001 pmd
            remap 0x7f0000000000 4M 0x2000000000
            slot 0 0x8000000000 4M 0x7f0000000000
            access 0x8000345000 r
            """;
        string[] expected = policy switch
        {
            // get_vma_page_shift/device_rough_page_shift: pa(vm_pgoff) 0x2000346000 ≡ 0x146000 vs hva ≡ 0x145000: PAGE.
            // device (v5.14, v6.18: map_non_cacheable) or force_pte (seed-v3: size == PAGE) keep THP adjust away.
            "v6.18" or "v7.4" or "v5.14" or "seed-v3" => ["slot 6 ok", "access 7 tfL1 -> map 0x8000345000 0x1000 0x2000345000 rwd"],
            // host-pte reads the host's 2M leaf: a 2M block, at the PA the host really maps
            "host-pte" => ["slot 6 ok", "access 7 tfL1 -> map 0x8000200000 0x200000 0x2000200000 rwd"],
            _ => ["slot 6 ok", "access 7 hit"], // mapped at creation from vm_pgoff
        };
        AssertLines(expected, Run(script, policy));
    }

    [Theory]
    [InlineData("v5.13")]
    [InlineData("v5.9")]
    public void Pre_5_14_creation_time_mapping_takes_pas_from_vm_pgoff_not_the_host(string policy)
    {
        const string script = """
            granule 4K
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 4M pfnmap 0x2000001 pmd
            remap 0x7f0000000000 4M 0x2000000000
            slot 0 0x8000000000 4M 0x7f0000000000
            """;
        Run(script, policy, out var vm);
        var t = vm.Stage2.Translate(0x8000345000, AccessKind.Read);
        Assert.True(t.IsMapped); // kvm_phys_addr_ioremap mapped it at creation
        Assert.Equal(0x2000346000UL, t.Pa); // (vm_pgoff << PAGE_SHIFT) + 0x345000, not the host's 0x2000345000
        Assert.Equal(1024, Leaves(vm).Count); // 4M / 4K pages
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Device_pfn_in_a_vma_that_is_not_pfnmap(string policy)
    {
        // An anonymous-looking VMA (THP enabled) whose pages are not RAM: PA 0x30_0000_0000 is outside `ram`.
        const string script = """
            granule 4K
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 4M anon 0x3000000000 thp
            slot 0 0x40000000 4M 0x7f0000000000
            access 0x40345000 w
            access 0x40345000 x
            """;
        string[] expected = policy switch
        {
            // 5.10-rc1: kvm_is_device_pfn sets device but not force_pte, so transparent_hugepage_adjust runs and
            // kvm_is_transparent_hugepage() does pfn_to_page() on a pfn without a struct page
            "v5.9" =>
            [
                "slot 5 ok",
                "access 6 tfL1 -> map 0x40345000 0x1000 0x3000345000 rwd !page-of-nonram-pfn",
                "access 7 pfL3 -> error ENOEXEC", // exec && device returns -ENOEXEC before THP adjust: no marker
            ],
            // 5.13: device -> force_pte; seed-v3: force_pte = (size == PAGE); 5.14: !(force_pte || device)
            "v5.13" or "seed-v3" or "v5.14" =>
            [
                "slot 5 ok",
                "access 6 tfL1 -> map 0x40345000 0x1000 0x3000345000 rwd", // a device page, no THP adjust
                "access 7 pfL3 -> error ENOEXEC", // XN device page, exec fault on a device pfn
            ],
            // v6.18 decides "device" by VMA flags: (VM_PFNMAP|VM_MIXEDMAP) && !pfn_is_map_memory. This VMA has
            // neither flag, so the pfn is treated as memory: THP adjust sees the host's 2M leaf.
            _ =>
            [
                "slot 5 ok",
                "access 6 tfL1 -> map 0x40200000 0x200000 0x3000200000 rwx", // normal memory, DIC: executable
                "access 7 hit",
            ],
        };
        AssertLines(expected, Run(script, policy));
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Permission_fault_on_a_thp_block(string policy)
    {
        // DIC off: the 2M THP block is mapped rw without X; a fetch is a permission fault at level 2.
        const string script = """
            granule 4K
            dic off
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 4M anon 0x100000000 thp
            slot 0 0x40000000 4M 0x7f0000000000
            access 0x40345000 w
            access 0x40345000 x
            access 0x40201000 x
            """;
        string[] expected =
        [
            "slot 6 ok",
            "access 7 tfL1 -> map 0x40200000 0x200000 0x100200000 rw", // THP block, no X without DIC
            policy is "v5.14" or "v6.18" or "v7.4" or "host-pte"
                // 5.15+: PAGE_SIZE and a permission fault with fault_granule 2M > PAGE: keep 2M, relax at fault_ipa as is
                ? "access 8 pfL2 -> relax 0x40345000 rwx"
                // 5.13/seed-v3/5.10: transparent_hugepage_adjust again (IPA aligned down), 2M == fault_granule: relax
                : "access 8 pfL2 -> relax 0x40200000 rwx",
            "access 9 hit", // the whole block is executable now
        ];
        AssertLines(expected, Run(script, policy));
    }
}
