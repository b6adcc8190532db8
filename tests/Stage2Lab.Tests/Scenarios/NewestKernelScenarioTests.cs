using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.Kvm.Policies;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Invariants;
using Stage2Lab.Simulation.Playback;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Tests.Invariants;

namespace Stage2Lab.Tests.Scenarios;

/// <summary>The scenario keys of the newest kernels (vm.pkvm, guest-memfd, nested:, guest: l2) and the examples that use them.</summary>
public class NewestKernelScenarioTests
{
    private const string Base = """
        host:
          ram:
            - { base: 0x8000_0000, size: 4G }
        mappings:
          - { name: ram, kind: anon, start: 0x7f00_0000_0000, size: 64M }
        """ + "\n";

    private static Scenario Example(string name) => ScenarioReader.Load(Path.Combine(RepoPaths.Examples, name));

    private static List<ScenarioError> Errors(string yaml) =>
        Assert.Throws<ScenarioException>(() => ScenarioReader.Parse(yaml, "t.yaml")).Errors.ToList();

    [Fact]
    public void The_new_keys_are_read()
    {
        Scenario s = ScenarioReader.Parse(Base + """
            vm:
              pkvm: protected
            memslots:
              - { id: 0, ipa: 0x4000_0000, mapping: ram, guest-memfd: true }
            nested:
              l1-stage2:
                - { l2-ipa: 0, l1-ipa: 0x4000_0000, size: 2M, perms: rw }
            timeline:
              - access: { ipa: 0x1000, kind: write, guest: l2 }
              - workload: { pattern: sequential, ipa: 0, size: 2M, guest: l2 }
              - access: { ipa: 0x4000_0000, kind: read }
            """, "t.yaml");
        Assert.Equal(VmFlavor.ProtectedPkvm, s.Vm.Pkvm);
        Assert.Equal(MemslotFlags.GuestMemfd, s.Memslots[0].Flags);
        Assert.Equal([new L1Stage2Mapping(0, 2UL << 20, 0x40000000, Prot.RW)], s.Nested!.L1Stage2);
        Assert.True(((AccessEvent)s.Timeline[0]).L2Guest);
        Assert.True(((WorkloadEvent)s.Timeline[1]).L2Guest);
        Assert.False(((AccessEvent)s.Timeline[2]).L2Guest);
        Assert.Equal(["v7.4"], s.Vm.Policies); // only v7.4 models protected and nested guests
    }

    [Fact]
    public void Pkvm_defaults_to_the_kernels_that_model_it()
    {
        Scenario s = ScenarioReader.Parse(Base + "vm:\n  pkvm: true\n", "t.yaml");
        Assert.Equal(["v6.18", "v7.4"], s.Vm.Policies);
    }

    [Fact]
    public void A_listed_policy_that_does_not_model_the_vm_is_an_error_at_its_entry()
    {
        ScenarioError e = Assert.Single(Errors(Base + """
            vm:
              pkvm: true
              policies: [v6.18,
                v5.14]
            """));
        Assert.Equal(9, e.Line); // the v5.14 entry
        Assert.Contains("policy v5.14 does not model pkvm: true; the kernels that do: v6.18, v7.4", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("vm:\n  pkvm: maybe\n", "pkvm")]
    [InlineData("timeline:\n  - access: { ipa: 0x1000, kind: read, guest: l2 }\n", "guest: l2 needs a nested: section")]
    [InlineData("nested:\n  l1-stage2:\n    - { l2-ipa: 0x1000, l1-ipa: 0, size: 2M }\n", "must both be aligned to the leaf size")]
    [InlineData("nested:\n  l1-stage2:\n    - { l2-ipa: 0, l1-ipa: 0, size: 3M }\n", "is not a stage-2 leaf size")]
    [InlineData("nested:\n  l1-stage2:\n    - { l2-ipa: 0, l1-ipa: 0, size: 2M, perms: rwz }\n", "perms 'rwz'")]
    [InlineData("nested:\n  l1-stage2:\n    - { l2-ipa: 0, l1-ipa: 0, size: 2M }\n    - { l2-ipa: 0x1000, l1-ipa: 0x1000, size: 4K }\n", "overlaps the leaf at L2 IPA 0x0")]
    [InlineData("nested:\n  l1-stage2:\n    - { l2-ipa: 0, size: 2M }\n", "l1-ipa")]
    public void Bad_new_keys_are_reported_with_where_and_what(string tail, string expected)
    {
        List<ScenarioError> errors = Errors(Base + tail);
        Assert.Contains(errors, e => e.Message.Contains(expected, StringComparison.Ordinal) || e.Path.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void The_writer_keeps_the_new_keys()
    {
        Scenario s = Example("nested-l2-guest.yaml");
        Scenario again = ScenarioReader.Parse(ScenarioWriter.Write(s), "again.yaml");
        Assert.Equal(s.Nested!.L1Stage2, again.Nested!.L1Stage2);
        Assert.Equal(s.Timeline.OfType<AccessEvent>().Select(a => a.L2Guest), again.Timeline.OfType<AccessEvent>().Select(a => a.L2Guest));
        Scenario g = ScenarioReader.Parse(ScenarioWriter.Write(Example("guest-memfd.yaml")), "g.yaml");
        Assert.Equal(MemslotFlags.GuestMemfd, g.Memslots[1].Flags);
        Assert.Equal(VmFlavor.ProtectedPkvm, ScenarioReader.Parse(ScenarioWriter.Write(Example("protected-guest.yaml")), "p.yaml").Vm.Pkvm);
    }

    [Fact]
    public void Pkvm_maps_pmd_blocks_where_ram_hugetlb_1g_maps_gigabytes()
    {
        // 8 GiB of 1 GiB hugetlb pages, swept every 2 MiB: 8 PUD blocks on an ordinary VM, 4,096 PMD blocks under pKVM.
        PolicyRun plain = ScenarioRunner.Run(Example("ram-hugetlb-1g.yaml"), "v7.4", new RunOptions { CaptureDecisions = false });
        Assert.Equal(8, plain.Final.Leaves[1]);
        foreach (string policy in new[] { "v6.18", "v7.4" })
        {
            PolicyRun run = ScenarioRunner.Run(Example("ram-hugetlb-1g-pkvm.yaml"), policy, new RunOptions { Check = true, CaptureDecisions = false });
            Assert.Equal((0L, 4096L), (run.Final.Leaves[1], run.Final.Leaves[2]));
            Assert.Empty(run.Violations);
        }
    }

    [Fact]
    public void The_protected_guest_example_maps_pages_and_refuses_what_the_kernel_refuses()
    {
        PolicyRun run = ScenarioRunner.Run(Example("protected-guest.yaml"), "v7.4", new RunOptions { CaptureDecisions = false });
        Assert.Equal((0L, 0L, 512L), (run.Final.Leaves[1], run.Final.Leaves[2], run.Final.Leaves[3])); // one 4K page per 2 MiB touched
        Assert.Equal(4, run.TotalFaults.Errors); // the hugetlb slot: -EIO, 1 GiB / 256 MiB accesses
        EventRefusal refusal = Assert.Single(run.Phases.SelectMany(p => p.Refusals));
        Assert.Equal(Errno.EPERM, refusal.Errno); // slot-delete after the guest ran
    }

    [Fact]
    public void The_guest_memfd_example_maps_pages_where_thp_maps_blocks()
    {
        ScenarioResult result = ScenarioRunner.RunAll(Example("guest-memfd.yaml"), ["v5.14", "v7.4"], new RunOptions { CaptureDecisions = false });
        PolicyRun old = result.Runs[0], newest = result.Runs[1];
        Assert.Equal((512L, 0L), (old.Final.Leaves[2], old.Final.Leaves[3])); // 5.14 refused the guest_memfd slot
        Assert.Equal(512, old.TotalFaults.MmioExits);
        Assert.Equal((512L, 512L), (newest.Final.Leaves[2], newest.Final.Leaves[3]));
    }

    [Fact]
    public void The_nested_example_clamps_the_shadow_stage_2()
    {
        PolicyRun run = ScenarioRunner.Run(Example("nested-l2-guest.yaml"), "v7.4", new RunOptions { Check = true, CaptureDecisions = true });
        // 1 GiB L1 leaf → one 1 GiB shadow block; 32 MiB L1 leaves → 2 MiB blocks (32 for 64 MiB);
        // 64 KiB L1 leaves → 4 KiB pages (32 for 128 KiB); the canonical stage 2 holds L1's own 1 GiB block.
        Assert.Equal([0L, 1L, 32L, 32L], run.Final.ShadowLeaves!);
        Assert.Equal(1, run.Final.Leaves[1]);
        Assert.Equal(2, run.TotalFaults.ForwardedToL1); // the write to L1's read-only leaf, the IPA L1 does not map
        Assert.Empty(run.Violations);
    }

    [Fact]
    public void A_pkvm_block_bigger_than_pmd_breaks_the_protected_kvm_invariant()
    {
        // Under pKVM the fault path maps PMD blocks; a 1 GiB leaf put there by hand is what a careless port would do.
        KvmVm vm = InvariantTestKit.Build(InvariantTestKit.Ram.Replace("granule 4K\n", "granule 4K\npolicy v7.4\npkvm on\n", StringComparison.Ordinal) + """
            vma 0x7f0000000000 1G hugetlb 1G 0x100000000
            slot 0 0x40000000 1G 0x7f0000000000
            access 0x40000000 r
            """);
        Assert.Empty(InvariantTestKit.CheckAll(vm)); // the kernel's own PMD block
        vm.Stage2.Unmap(0x40000000, 1UL << 30);
        Assert.Equal(0, vm.Stage2.Map(0x40000000, 1UL << 30, 0x100000000, Prot.RW, MemoryCache.Unbounded()));
        InvariantViolation v = Assert.Single(InvariantTestKit.CheckAll(vm));
        Assert.Equal(InvariantKind.ProtectedKvmBlockSize, v.Kind);
        Assert.Contains("PMD_SIZE 0x200000 only", v.Message, StringComparison.Ordinal);
    }
}
