using Stage2Lab.Kvm;
using Stage2Lab.Kvm.Policies;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Tests.Scenarios;

/// <summary>A comparison column may be a kernel under protected KVM (v7.4+pkvm), whatever the scenario's vm.pkvm.</summary>
public class PolicyTargetTests
{
    [Theory]
    [InlineData("v7.4", "v7.4", null)]
    [InlineData("v7.4+pkvm", "v7.4", VmFlavor.Pkvm)]
    [InlineData("v6.18+pkvm", "v6.18", VmFlavor.Pkvm)]
    [InlineData("v7.4+protected", "v7.4", VmFlavor.ProtectedPkvm)]
    public void Targets_name_a_policy_and_a_flavor(string name, string policy, VmFlavor? flavor)
    {
        PolicyTarget t = PolicyRegistry.FindTarget(name)!.Value;
        Assert.Equal(policy, t.Policy.Name);
        Assert.Equal(flavor, t.Flavor);
        Assert.Equal(name, t.Name);
        Assert.Contains(name, PolicyRegistry.TargetNames);
    }

    [Theory]
    [InlineData("v5.13+pkvm")] // 5.13 has no model of protected KVM
    [InlineData("v6.18+protected")] // 6.18 has no protected-guest fault path
    [InlineData("v9+pkvm")]
    [InlineData("+pkvm")]
    public void A_flavor_the_policy_does_not_model_is_no_target(string name)
    {
        Assert.Null(PolicyRegistry.FindTarget(name));
        Assert.DoesNotContain(name, PolicyRegistry.TargetNames);
    }

    [Fact]
    public void A_pkvm_column_shows_pmd_blocks_where_the_plain_kernel_maps_1G()
    {
        Scenario s = ScenarioReader.Load(Path.Combine(RepoPaths.Examples, "ram-hugetlb-1g.yaml"));
        ScenarioResult result = ScenarioRunner.RunAll(s, ["v7.4", "v7.4+pkvm"], new RunOptions { CaptureDecisions = false });
        PolicyRun plain = result.Runs[0], pkvm = result.Runs[1];
        Assert.Equal("v7.4+pkvm", pkvm.Policy);
        Assert.Equal(8, plain.Final.Leaves[1]); // eight 1G blocks of the aligned slot
        Assert.Equal(0, pkvm.Final.Leaves[1]); // fault_supports_stage2_huge_mapping: PMD_SIZE only under pKVM
        Assert.Equal((8L << 30 >> 22) + (2L << 30 >> 22), pkvm.Final.Leaves[2]); // one 2M block per 4M-strided access
    }

    [Fact]
    public void A_scenario_may_list_a_pkvm_column_but_not_one_the_kernel_does_not_model()
    {
        const string yaml = """
            host: { ram: [ { base: 0x8000_0000, size: 4G } ] }
            vm: { policies: [v7.4, v7.4+pkvm, v5.13+pkvm] }
            """;
        var ex = Assert.Throws<ScenarioException>(() => ScenarioReader.Parse(yaml, "t.yaml"));
        ScenarioError e = Assert.Single(ex.Errors);
        Assert.Equal("vm.policies[2]", e.Path);
        Assert.Contains("v5.13+pkvm", e.Message);
    }
}
