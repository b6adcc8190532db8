using System.Globalization;

namespace Stage2Lab.Simulation.Campaigns;

/// <summary>
/// The <see cref="Index"/>-th (1-based) of <see cref="Count"/> deterministic parts of a campaign: a contiguous
/// block of its items (points or cases), so that the parts in order are the whole in order.
/// </summary>
public readonly record struct Shard(int Index, int Count)
{
    /// <summary>The whole campaign as one part.</summary>
    public static Shard Whole => new(1, 1);

    /// <summary>More parts than this is a typo, not a cluster (a Slurm array is at most a few hundred thousand).</summary>
    public const int MaxCount = 1_000_000;

    public bool IsWhole => Count == 1;

    /// <summary>The items [First, End) of <paramref name="total"/> that are this part's: as even as integers allow.</summary>
    public (long First, long End) Range(long total) =>
        ((long)(UInt128.CreateChecked(total) * (uint)(Index - 1) / (uint)Count), (long)(UInt128.CreateChecked(total) * (uint)Index / (uint)Count));

    /// <summary>I/N, as Slurm (SLURM_ARRAY_TASK_ID + 1) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX + 1) give it.</summary>
    public static Shard Parse(string text)
    {
        string[] parts = text.Split('/');
        if (parts.Length != 2
            || !int.TryParse(parts[0].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int index)
            || !int.TryParse(parts[1].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int count))
        {
            throw new CampaignException($"--shard '{text}' is not I/N; expected e.g. --shard 2/8 (the 2nd of 8 parts, counted from 1)");
        }
        if (count < 1 || count > MaxCount)
            throw new CampaignException($"--shard {text}: N must be 1 to {MaxCount:N0}");
        if (index < 1 || index > count)
            throw new CampaignException($"--shard {text}: I must be 1 to {count} (parts are counted from 1; with Slurm use $((SLURM_ARRAY_TASK_ID+1)), with Kubernetes $((JOB_COMPLETION_INDEX+1)))");
        return new Shard(index, count);
    }

    public override string ToString() => $"{Index}/{Count}";
}
