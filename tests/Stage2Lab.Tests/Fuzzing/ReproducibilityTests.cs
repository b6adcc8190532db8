using System.Text.RegularExpressions;
using Stage2Lab.Simulation.Fuzzing;
using Stage2Lab.Simulation.Invariants;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Tests.Fuzzing;

/// <summary>
/// A fuzz campaign is a pure function of its options: the same seed finds the same violation and shrinks it to the
/// same reproducer, byte for byte, whatever else the machine is doing (shrinking is budgeted in executions, not
/// seconds). The reproducers kept in examples/bugs are what their recorded command writes today.
/// </summary>
public partial class ReproducibilityTests
{
    [GeneratedRegex(@"^# Reproducer found by: s2lab fuzz --policy (\S+) --seed (\d+) --layout (\w+)(?: --invariant (\w+))?", RegexOptions.Multiline)]
    private static partial Regex FoundBy();

    public static TheoryData<string> Reproducers() => new(Directory.GetFiles(Path.Combine(RepoPaths.Examples, "bugs"), "*.yaml").Select(Path.GetFileName).Order(StringComparer.Ordinal)!);

    private static string WithoutComments(string yaml) =>
        string.Join("\n", yaml.Split('\n').Where(l => !l.StartsWith('#')));

    private static FuzzOptions OptionsFrom(string yaml)
    {
        Match m = FoundBy().Match(yaml);
        Assert.True(m.Success, "a reproducer says how it was found");
        return new FuzzOptions
        {
            Policy = m.Groups[1].Value,
            Seed = ulong.Parse(m.Groups[2].Value),
            Layout = Enum.Parse<FuzzLayout>(m.Groups[3].Value, ignoreCase: true),
            OnlyKind = m.Groups[4].Success ? Enum.Parse<InvariantKind>(m.Groups[4].Value) : null,
            MaxEvents = 200_000,
        };
    }

    [Theory]
    [MemberData(nameof(Reproducers))]
    public void The_recorded_command_writes_the_kept_reproducer_again(string file)
    {
        string kept = File.ReadAllText(Path.Combine(RepoPaths.Examples, "bugs", file));
        FuzzReport report = Fuzzer.Run(OptionsFrom(kept));
        Assert.NotNull(report.Finding);
        Assert.Equal(WithoutComments(kept), WithoutComments(ScenarioWriter.Write(report.Finding!.Reproducer)));
    }

    [Fact]
    public async Task The_same_seed_shrinks_to_the_same_reproducer_on_a_busy_machine()
    {
        var options = new FuzzOptions { Policy = "v5.14", Seed = 3, Layout = FuzzLayout.Any, MaxEvents = 50_000, OnlyKind = InvariantKind.PaMatchesHost };
        string idle = ScenarioWriter.Write(Fuzzer.Run(options).Finding!.Reproducer);

        // Every other core spins while the campaign runs again.
        using var stop = new CancellationTokenSource();
        Task[] burners = Enumerable.Range(0, Environment.ProcessorCount)
            .Select(_ => Task.Factory.StartNew(() => { while (!stop.IsCancellationRequested) Thread.SpinWait(1000); }, TaskCreationOptions.LongRunning))
            .ToArray();
        string busy = ScenarioWriter.Write(Fuzzer.Run(options).Finding!.Reproducer);
        stop.Cancel();
        await Task.WhenAll(burners);

        Assert.Equal(idle, busy);
    }

    [Theory]
    [MemberData(nameof(Reproducers))]
    public void Each_regression_test_file_is_the_example_byte_for_byte(string file)
    {
        string regression = Path.Combine(RepoPaths.RepoRoot, "tests", "Stage2Lab.Tests", "Fuzzing", "Regressions", file);
        Assert.Equal(File.ReadAllBytes(Path.Combine(RepoPaths.Examples, "bugs", file)), File.ReadAllBytes(regression));
    }
}
