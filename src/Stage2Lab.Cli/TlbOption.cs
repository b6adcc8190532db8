using System.CommandLine;
using Stage2Lab.Simulation.Tlb;

namespace Stage2Lab.Cli;

/// <summary>--tlb PROFILE|off: the guest TLB model's profile (docs/tlb-model.md), on by default.</summary>
internal static class TlbOption
{
    public const string Off = "off";

    public static Option<string> Create() => Create($"The guest TLB and nested-walk model's profile, or {Off} to leave the model out.");

    public static Option<string> Create(string description)
    {
        var option = new Option<string>("--tlb")
        {
            Description = $"{description} Choices: {string.Join(", ", TlbProfiles.Names)}, {Off}. Default: {TlbProfiles.NeoverseN1.Name}.",
            DefaultValueFactory = _ => TlbProfiles.NeoverseN1.Name,
            HelpName = "PROFILE",
        };
        option.AcceptOnlyFromAmong([.. TlbProfiles.Names, Off]);
        return option;
    }

    /// <summary>The profile asked for; null for off.</summary>
    public static TlbProfile? Profile(ParseResult parse, Option<string> option) =>
        parse.GetValue(option) is { } name && name != Off ? TlbProfiles.TryGet(name) : null;
}
