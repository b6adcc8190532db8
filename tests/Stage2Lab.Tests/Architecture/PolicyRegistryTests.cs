using Stage2Lab.Kvm;
using Stage2Lab.Kvm.Policies;

namespace Stage2Lab.Tests.Architecture;

/// <summary>The registry every choice of policy comes from.</summary>
public class PolicyRegistryTests
{
    public static TheoryData<string> Every() => new(PolicyRegistry.Names);

    [Theory]
    [MemberData(nameof(Every))]
    public void Each_policy_is_made_by_its_entry_and_says_where_it_comes_from(string name)
    {
        PolicyDescriptor d = PolicyRegistry.Find(name)!;
        FaultPolicy policy = d.Create();
        Assert.Equal(name, policy.Name);
        Assert.NotSame(policy, d.Create()); // a fresh object per VM
        Assert.False(string.IsNullOrWhiteSpace(d.Description));
        Assert.False(string.IsNullOrWhiteSpace(d.KernelSource));
    }

    [Fact]
    public void Names_are_unique_and_kernels_come_first()
    {
        Assert.Equal(PolicyRegistry.Names.Count, PolicyRegistry.Names.Distinct().Count());
        var kinds = PolicyRegistry.All.Select(p => p.Kind).ToList();
        Assert.Equal(kinds.OrderBy(k => k).ToList(), kinds); // kernels, then proposals, then variants
        Assert.DoesNotContain(PolicyRegistry.All, p => p.Kind == PolicyKind.BuggyVariant && PolicyRegistry.ComparedNames.Contains(p.Name));
    }

    [Fact]
    public void The_default_is_the_newest_kernel_never_a_proposal_or_a_variant()
    {
        Assert.Equal(PolicyKind.Kernel, PolicyRegistry.NewestKernel.Kind);
        Assert.Equal(PolicyRegistry.All.Last(p => p.Kind == PolicyKind.Kernel), PolicyRegistry.NewestKernel);
    }

    [Theory]
    [MemberData(nameof(Every))]
    public void Every_kernel_policy_has_golden_vectors_of_the_kernel_s_own_code(string name)
    {
        if (PolicyRegistry.Find(name)!.Kind != PolicyKind.Kernel)
            return;
        // A script without a policy header runs v6.18 (the format's default).
        bool found = new[] { RepoPaths.FaultGolden, Path.Combine(RepoPaths.Shared, "fgolden-v74") }
            .Where(Directory.Exists)
            .SelectMany(dir => Directory.GetFiles(dir, "*.s2faults"))
            .Any(file => File.ReadLines(file).Any(l => l.Trim() == $"policy {name}") || (name == "v6.18" && !File.ReadLines(file).Any(l => l.StartsWith("policy ", StringComparison.Ordinal))));
        Assert.True(found, $"no golden script runs policy {name}");
    }
}
