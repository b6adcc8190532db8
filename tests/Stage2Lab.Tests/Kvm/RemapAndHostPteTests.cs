using Stage2Lab.Arch;
using static Stage2Lab.Tests.Kvm.FaultScripts;

namespace Stage2Lab.Tests.Kvm;

/// <summary>
/// A VM_PFNMAP VMA the driver populated in physically non-contiguous pieces (`remap`): get_vma_page_shift trusts
/// vm_pgoff and maps blocks from the pfn of the block's first page (wrong PAs for the rest), host-pte only maps
/// what the host maps. Also the past-the-VMA and munmap stories, where vm_pgoff advances when a VMA is split.
/// </summary>
public class RemapAndHostPteTests
{
    public static TheoryData<string> Policies() => new(AllPolicies);

    [Theory]
    [MemberData(nameof(Policies))]
    public void Non_contiguous_pfnmap_gets_wrong_pas_except_under_host_pte(string policy)
    {
        const string script = """
            granule 4K
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 4M pfnmap 0x2000000
            remap 0x7f0000200000 0x1000 0x3000000000
            remap 0x7f0000010000 0x1000 0x3100000000
            slot 0 0x8000000000 4M 0x7f0000000000
            access 0x8000010000 r
            access 0x8000345000 r
            """;
        string[] expected = policy switch
        {
            // vm_pgoff says the VMA is linear at 0x2000000000, hva ≡ pa (mod 2M): PMD blocks from the pfn of the
            // block's first page. Page +0x10000 (host: 0x3100000000) lands at 0x2000010000; every page of the second
            // block but its first lands at 0x3000000000 + offset (host: 0x2000200000 + offset).
            "v6.18" or "v7.4" or "v5.14" or "seed-v3" =>
            [
                "slot 7 ok",
                "access 8 tfL1 -> map 0x8000000000 0x200000 0x2000000000 rwd",
                "access 9 tfL2 -> map 0x8000200000 0x200000 0x3000000000 rwd",
            ],
            // the host maps 4K PTEs: one page each, at the PA the host really maps
            "host-pte" =>
            [
                "slot 7 ok",
                "access 8 tfL1 -> map 0x8000010000 0x1000 0x3100000000 rwd", // the remapped page
                "access 9 tfL2 -> map 0x8000345000 0x1000 0x2000345000 rwd", // linear part; L1 table exists, its L2 entry 1 is empty
            ],
            _ => ["slot 7 ok", "access 8 hit", "access 9 hit"], // mapped at creation from vm_pgoff (remap ignored)
        };
        AssertLines(expected, Run(script, policy));
    }

    [Theory]
    [InlineData("v5.13")]
    [InlineData("v5.9")]
    public void Pre_5_14_creation_time_mapping_ignores_remapped_pieces(string policy)
    {
        const string script = """
            granule 4K
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 4M pfnmap 0x2000000
            remap 0x7f0000010000 0x1000 0x3100000000
            slot 0 0x8000000000 4M 0x7f0000000000
            """;
        Run(script, policy, out var vm);
        Assert.Equal(0x2000010000UL, vm.Stage2.Translate(0x8000010000, AccessKind.Read).Pa); // kvm_phys_addr_ioremap: PA from vm_pgoff, not the host's 0x3100000000
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Host_pte_gives_blocks_where_the_host_maps_pmd_size(string policy)
    {
        const string script = """
            granule 4K
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 8M pfnmap 0x2000000 pmd
            remap 0x7f0000200000 0x1000 0x3000000000
            slot 0 0x8000000000 8M 0x7f0000000000
            access 0x8000123000 r
            access 0x8000345000 r
            access 0x8000600000 w
            """;
        string[] expected = policy switch
        {
            // host: chunk [0, 2M) linear and 2M-aligned -> PMD leaf; chunk [2M, 4M) starts with a remapped page -> 4K
            // PTEs; chunk [6M, 8M) PMD.
            "host-pte" =>
            [
                "slot 6 ok",
                "access 7 tfL1 -> map 0x8000000000 0x200000 0x2000000000 rwd", // host PMD leaf
                "access 8 tfL2 -> map 0x8000345000 0x1000 0x2000345000 rwd", // host 4K leaf there: a page at the right PA
                "access 9 tfL2 -> map 0x8000600000 0x200000 0x2000600000 rwd", // host PMD leaf
            ],
            "v6.18" or "v7.4" or "v5.14" or "seed-v3" =>
            [
                "slot 6 ok",
                "access 7 tfL1 -> map 0x8000000000 0x200000 0x2000000000 rwd", // PUD: ALIGN(hva, 1G) > vm_end; PMD from vm_pgoff
                "access 8 tfL2 -> map 0x8000200000 0x200000 0x3000000000 rwd", // block from the first page's pfn: wrong PA for the rest
                "access 9 tfL2 -> map 0x8000600000 0x200000 0x2000600000 rwd",
            ],
            _ => ["slot 6 ok", "access 7 hit", "access 8 hit", "access 9 hit"], // mapped at creation
        };
        AssertLines(expected, Run(script, policy));
    }

    [Theory]
    [InlineData("v6.18")]
    [InlineData("v5.14")]
    [InlineData("seed-v3")]
    [InlineData("host-pte")]
    public void Munmap_inside_a_bar_splits_the_vma_and_advances_vm_pgoff(string policy)
    {
        const string script = """
            granule 4K
            policy POLICY
            ram 0x80000000 16G
            vma 0x7f0000000000 1G pfnmap 0x2000000 pmd
            slot 0 0x8000000000 1G 0x7f0000000000
            access 0x8000000000 w
            munmap 0x7f0000400000 0x200000
            access 0x8000600000 r
            access 0x8000400000 r
            access 0x8000000000 r
            access 0x8000400000 r
            """;
        string[] expected = policy == "host-pte"
            ?
            [
                "slot 5 ok",
                "access 6 tfL1 -> map 0x8000000000 0x200000 0x2000000000 rwd", // host PMD leaf
                // munmap: kvm_unmap_gfn_range drops [4M, 6M) (nothing mapped there); the 2M block at 0 stays
                "access 8 tfL2 -> map 0x8000600000 0x200000 0x2000600000 rwd", // upper piece: vm_pgoff 0x2000600, host PMD leaf
                "access 9 tfL2 -> error EFAULT", // the hole has no VMA
                "access 10 hit", // the first block was never unmapped
                "access 11 tfL2 -> error EFAULT",
            ]
            :
            [
                "slot 5 ok",
                "access 6 tfL1 -> map 0x8000000000 0x40000000 0x2000000000 rwd", // 1G block
                // munmap [4M, 6M): the notifier unmaps that range, which drops the whole 1G block
                "access 8 tfL1 -> map 0x8000600000 0x200000 0x2000600000 rwd", // upper piece starts at 6M: ALIGN_DOWN(hva, 1G) < vm_start, PMD; pa from vm_pgoff 0x2000600
                "access 9 tfL2 -> error EFAULT", // the hole has no VMA
                // lower piece [0, 4M): hva 1G-aligned, so ALIGN(hva, 1G) == hva <= vm_end and the 1G block fits the
                // slot: the whole GB is mapped again, hole included (replacing the L2 table)
                "access 10 tfL2 -> map 0x8000000000 0x40000000 0x2000000000 rwd",
                "access 11 hit", // the unmapped hole is reachable again
            ];
        AssertLines(expected, Run(script, policy));
    }

    [Fact]
    public void Munmap_splits_vmas_and_refuses_to_split_a_huge_page()
    {
        var host = NewHost(Granule.Size4K);
        Assert.True(host.AddVma(PfnMap(0x7f0000000000, 8UL << 20, 0x2000000)).Succeeded);
        Assert.True(host.AddVma(Anon(0x7f0010000000, 8UL << 20, 0x100000000)).Succeeded);
        Assert.True(host.AddVma(Hugetlb(0x7f0040000000, 4UL << 20, 2UL << 20, 0x140000000)).Succeeded);

        Assert.True(host.Munmap(0x7f0000200000, 0x200000).Succeeded);
        Assert.Equal(0x2000000UL, host.FindVma(0x7f0000000000)!.PgOff); // lower piece keeps vm_pgoff
        Assert.Equal(0x7f0000200000UL, host.FindVma(0x7f0000000000)!.End); // and ends where the hole starts
        Assert.Null(host.FindVma(0x7f0000200000)); // the hole
        Assert.Equal(0x2000400UL, host.FindVma(0x7f0000400000)!.PgOff); // upper piece: pgoff + 4M/4K = + 0x400
        Assert.Equal(0x2000500000UL, host.FindVma(0x7f0000500000)!.PaOf(0x7f0000500000, 12)); // PA continues linearly

        Assert.True(host.Munmap(0x7f0010001000, 0x1000).Succeeded); // a page out of an anon VMA
        Assert.Equal(0x100002000UL, host.FindVma(0x7f0010002000)!.PaOf(0x7f0010002000, 12)); // upper piece's backing PA advances

        var split = host.Munmap(0x7f0040100000, 0x200000); // cuts both 2M huge pages in half
        Assert.Equal(Errno.EINVAL, split.Errno);
        Assert.Contains("hugetlb", split.Message); // a sentence saying why
        Assert.NotNull(host.FindVma(0x7f0040100000)); // nothing changed
        Assert.True(host.Munmap(0x7f0040200000, 0x200000).Succeeded); // a whole huge page: fine

        Assert.Equal(Errno.EINVAL, host.Munmap(0x7f0010000800, 0x1000).Errno); // unaligned address
        Assert.Equal(Errno.EINVAL, host.Munmap(0x7f0010000000, 0).Errno); // size 0
    }
}
