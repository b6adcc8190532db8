using System.CommandLine;
using Stage2Lab.Kvm.Policies;

namespace Stage2Lab.Cli;

/// <summary>--policy and --policies, their choices (and completions) taken from the policy registry.</summary>
internal static class PolicyOptions
{
    public static Option<string?> Single(string description)
    {
        var option = new Option<string?>("--policy") { Description = description + " " + Choices() };
        option.AcceptOnlyFromAmong([.. PolicyRegistry.TargetNames]);
        return option;
    }

    public static Option<string> SingleWithDefault(string description, string defaultName)
    {
        var option = new Option<string>("--policy") { Description = description + " " + Choices(), DefaultValueFactory = _ => defaultName };
        option.AcceptOnlyFromAmong([.. PolicyRegistry.Names]);
        return option;
    }

    public static Option<string[]> Many(string description)
    {
        var option = new Option<string[]>("--policies") { Description = description + " " + Choices(), AllowMultipleArgumentsPerToken = true };
        option.AcceptOnlyFromAmong([.. PolicyRegistry.TargetNames]);
        return option;
    }

    private static string Choices() =>
        "Kernels: " + string.Join(", ", Of(PolicyKind.Kernel)) + "; proposals: " + string.Join(", ", Of(PolicyKind.Proposal))
        + "; deliberately buggy variants: " + string.Join(", ", Of(PolicyKind.BuggyVariant))
        + ". A kernel that models protected KVM may be suffixed +pkvm (a non-protected guest under pKVM) or +protected (v7.4: a protected guest), whatever the scenario's vm.pkvm.";

    private static IEnumerable<string> Of(PolicyKind kind) => PolicyRegistry.All.Where(p => p.Kind == kind).Select(p => p.Name);
}
