using System.CommandLine;
using Stage2Lab.Kvm.Policies;

namespace Stage2Lab.Cli;

/// <summary>--policy and --policies, their choices (and completions) taken from the policy registry.</summary>
internal static class PolicyOptions
{
    public static Option<string?> Single(string description)
    {
        var option = new Option<string?>("--policy") { Description = description + " " + Choices(), HelpName = "POLICY" };
        option.AcceptOnlyFromAmong([.. PolicyRegistry.TargetNames]);
        return option;
    }

    public static Option<string> SingleWithDefault(string description, string defaultName)
    {
        var option = new Option<string>("--policy") { Description = description + " " + Choices(), DefaultValueFactory = _ => defaultName, HelpName = "POLICY" };
        option.AcceptOnlyFromAmong([.. PolicyRegistry.Names]);
        return option;
    }

    /// <summary>
    /// --policies P [P...] or --policies P,P,...: the tokens after the option, split at commas. The option takes
    /// every token up to the next option, so a command with a scenario argument calls <see cref="ResolveScenario"/>:
    /// `compare --policies v5.13 v6.18 FILE` has FILE as its scenario, not as a third policy.
    /// </summary>
    public static Option<string[]> Many(string description)
    {
        var option = new Option<string[]>("--policies")
        {
            Description = description + " Give them one after another or separated by commas. " + Choices(),
            AllowMultipleArgumentsPerToken = true,
            HelpName = "POLICY",
            CustomParser = result => [.. result.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))],
        };
        option.CompletionSources.Add([.. PolicyRegistry.TargetNames]);
        return option;
    }

    /// <summary>
    /// Makes <paramref name="scenario"/> and <paramref name="policies"/> share the tokens: with no scenario given
    /// before the options, the last --policies token that is not a policy is the scenario. Every policy is checked
    /// against the registry (a parse error, exit 2, with the choices).
    /// </summary>
    public static void ResolveScenario(Command command, Argument<string?> scenario, Option<string[]> policies)
    {
        command.Validators.Add(result =>
        {
            var (file, names) = Split(result.GetValue(scenario), result.GetValue(policies) ?? []);
            if (file is null)
                result.AddError($"{command.Name} needs a scenario file (YAML or JSON, or - for standard input)");
            foreach (string name in names)
            {
                if (PolicyRegistry.FindTarget(name) is null)
                    result.AddError($"--policies: '{name}' is not a policy. {Choices()}");
            }
        });
    }

    /// <summary>The scenario and the policies, once <see cref="ResolveScenario"/> validated them.</summary>
    public static (string? Scenario, string[] Policies) Get(ParseResult parse, Argument<string?> scenario, Option<string[]> policies) =>
        Split(parse.GetValue(scenario), parse.GetValue(policies) ?? []);

    private static (string? Scenario, string[] Policies) Split(string? scenario, string[] tokens)
    {
        if (scenario is null && tokens.Length > 0 && PolicyRegistry.FindTarget(tokens[^1]) is null)
            return (tokens[^1], tokens[..^1]);
        return (scenario, tokens);
    }

    private static string Choices() =>
        "Kernels: " + string.Join(", ", Of(PolicyKind.Kernel)) + "; proposals: " + string.Join(", ", Of(PolicyKind.Proposal))
        + "; deliberately buggy variants: " + string.Join(", ", Of(PolicyKind.BuggyVariant))
        + ". A kernel that models protected KVM may be suffixed +pkvm (a non-protected guest under pKVM) or +protected (v7.4: a protected guest), whatever the scenario's vm.pkvm.";

    private static IEnumerable<string> Of(PolicyKind kind) => PolicyRegistry.All.Where(p => p.Kind == kind).Select(p => p.Name);
}
