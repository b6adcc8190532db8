using System.Security.Cryptography;
using System.Text;
using Stage2Lab.Simulation.Campaigns;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Sweeps;

/// <summary>
/// A sweep: a scenario's text, the varied keys and the policies. Its points are the cross product of the axes'
/// values, the first axis varying slowest (point 0 takes every axis's first value); each point is the scenario
/// read with that point's values, validated as the file's own would be.
/// </summary>
public sealed class SweepPlan
{
    private readonly string _text;
    private readonly string? _baseDirectory;

    public SweepPlan(string text, string file, string? baseDirectory, IReadOnlyList<SweepAxis> axes, IReadOnlyList<string> policies)
    {
        if (axes.Count == 0)
            throw new CampaignException("a sweep needs at least one --vary KEY=VALUES");
        if (policies.Count == 0)
            throw new CampaignException("a sweep needs at least one policy");
        var repeated = axes.GroupBy(a => a.Key, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (repeated is not null)
            throw new CampaignException($"--vary {repeated.Key} is given twice; give each key once, with all its values");
        long points = 1;
        foreach (SweepAxis axis in axes)
        {
            points *= axis.Values.Count;
            if (points > SweepAxis.MaxPoints)
                throw new CampaignException($"the --vary values make more than {SweepAxis.MaxPoints:N0} points ({string.Join(" × ", axes.Select(a => a.Values.Count))}); take fewer values or larger steps");
        }
        _text = text;
        _baseDirectory = baseDirectory;
        File = file;
        Axes = axes;
        Policies = policies;
        Points = points;
        ScenarioSha256 = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>The scenario's name as given (a path, or &lt;stdin&gt;).</summary>
    public string File { get; }

    public IReadOnlyList<SweepAxis> Axes { get; }

    public IReadOnlyList<string> Policies { get; }

    public long Points { get; }

    /// <summary>The scenario text's SHA-256: shards of different scenarios are never merged.</summary>
    public string ScenarioSha256 { get; }

    /// <summary>The value of each axis at <paramref name="point"/> (first axis slowest).</summary>
    public string[] ValuesAt(long point)
    {
        var values = new string[Axes.Count];
        for (int a = Axes.Count - 1; a >= 0; a--)
        {
            int n = Axes[a].Values.Count;
            values[a] = Axes[a].Values[(int)(point % n)];
            point /= n;
        }
        return values;
    }

    /// <summary>The scenario at <paramref name="point"/>: a fresh object each time (runs may go on in parallel).</summary>
    public Scenario Load(long point)
    {
        string[] values = ValuesAt(point);
        var overrides = new ScenarioOverride[Axes.Count];
        for (int a = 0; a < Axes.Count; a++)
            overrides[a] = new ScenarioOverride(Axes[a].Key, values[a]);
        return ScenarioReader.Parse(_text, File, _baseDirectory, overrides);
    }
}
