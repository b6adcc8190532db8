using System.CommandLine;
using Stage2Lab.Simulation.Campaigns;

namespace Stage2Lab.Cli;

/// <summary>--jobs and --shard, shared by sweep and fuzz.</summary>
internal static class CampaignOptions
{
    /// <summary>More threads than this is a typo; the machine's cores are the useful number.</summary>
    public const int MaxJobs = 1024;

    public static Option<int> Jobs()
    {
        var option = new Option<int>("--jobs")
        {
            Description = $"Run on this many threads (default: every core, {Environment.ProcessorCount} here). The output is the same for any number.",
            DefaultValueFactory = _ => Environment.ProcessorCount,
            HelpName = "N",
        };
        option.Validators.Add(result =>
        {
            int jobs = result.GetValueOrDefault<int>();
            if (jobs < 1 || jobs > MaxJobs)
                result.AddError($"--jobs must be 1 to {MaxJobs}, got {jobs}");
        });
        return option;
    }

    public static Option<string?> ShardOption(string what) => new("--shard")
    {
        Description = $"Run only the I-th of N parts of the {what} (I counted from 1), and write a JSON document that `s2lab merge` combines with the others into what one run writes. See docs/scale-out.md (Slurm job arrays, Kubernetes Indexed Jobs).",
        HelpName = "I/N",
    };

    public static Simulation.Campaigns.Shard ShardOf(ParseResult parse, Option<string?> option) =>
        parse.GetValue(option) is { } text ? Simulation.Campaigns.Shard.Parse(text) : Simulation.Campaigns.Shard.Whole;
}
