using System.Diagnostics;
using CsCheck;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Campaigns;
using Stage2Lab.Simulation.Invariants;
using Stage2Lab.Simulation.Playback;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Fuzzing;

public sealed class FuzzOptions
{
    public string Policy { get; init; } = "v6.18";

    /// <summary>The VMs' flavor: ordinary, or (pkvm) a non-protected guest under protected KVM.</summary>
    public VmFlavor Flavor { get; init; }

    public ulong Seed { get; init; } = 1;

    /// <summary>Stop after this many events (accesses and other events); 0: no limit.</summary>
    public long MaxEvents { get; init; } = 100_000;

    /// <summary>Stop after this many seconds; 0: no limit.</summary>
    public double Seconds { get; init; }

    public FuzzLayout Layout { get; init; } = FuzzLayout.Any;

    /// <summary>Events in one generated case (the timeline length before shrinking).</summary>
    public int EventsPerCase { get; init; } = 48;

    /// <summary>
    /// How many case executions shrinking may spend. A count, not a time, so that the same seed shrinks to the
    /// same reproducer on any machine and under any load.
    /// </summary>
    public int ShrinkExecutions { get; init; } = 4000;

    /// <summary>Only this invariant ends the campaign (others are ignored); null: any.</summary>
    public InvariantKind? OnlyKind { get; init; }

    /// <summary>Called now and then with (events so far, event budget or 0).</summary>
    public Action<long, long>? Progress { get; init; }

    /// <summary>
    /// Stop after this many cases (0: no limit). A campaign with a case budget and no event or time budget is one
    /// that <see cref="Shard"/> can split: its cases are fixed in advance.
    /// </summary>
    public long MaxCases { get; init; }

    /// <summary>Which part of the cases to run: a contiguous block of the <see cref="MaxCases"/> cases (whole by default).</summary>
    public Shard Shard { get; init; } = Shard.Whole;

    /// <summary>Cases run at once, on as many threads; the result is the one a single thread gives.</summary>
    public int Jobs { get; init; } = 1;
}

/// <summary>A violation the fuzzer found, shrunk to a small scenario that `s2lab check` reproduces.</summary>
public sealed record FuzzFinding(
    InvariantViolation Violation,
    Scenario Reproducer,
    long CaseIndex,
    long EventsToFind,
    TimeSpan TimeToFind,
    int EventsBeforeShrinking,
    int EventsAfterShrinking,
    TimeSpan ShrinkTime);

/// <summary>
/// A campaign's outcome. <see cref="Cases"/> and <see cref="Events"/> count from <see cref="FirstCase"/> (0 unless
/// a shard) up to and including the violating case (in it: up to the violation), as a single thread counts them.
/// </summary>
public sealed record FuzzReport(string Policy, ulong Seed, FuzzLayout Layout, long Cases, long Events, TimeSpan Elapsed, FuzzFinding? Finding)
{
    /// <summary>The index of the first case run (a shard's first; 0 for a whole campaign).</summary>
    public long FirstCase { get; init; }


    public double EventsPerSecond => Elapsed.TotalSeconds > 0 ? Events / Elapsed.TotalSeconds : 0;
}

/// <summary>
/// Generates random hosts, VMAs of every kind, memslots and event timelines with CsCheck's generators, runs each
/// under a policy with the invariant checker after every event, and shrinks the first violation: first the way
/// CsCheck shrinks (regenerate, keep failing cases of smaller size), then event by event, so the reproducer is
/// small. Deterministic per seed.
/// </summary>
public static class Fuzzer
{
    public static FuzzReport Run(FuzzOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Jobs, 1);
        if (!options.Shard.IsWhole && (options.MaxCases <= 0 || options.MaxEvents > 0 || options.Seconds > 0))
            throw new CampaignException("a fuzz shard needs a campaign of a fixed number of cases (--cases N) and no --events or --seconds: only then is each part's share of the cases known in advance");
        var (firstCase, endCase) = options.MaxCases > 0 ? options.Shard.Range(options.MaxCases) : (0, long.MaxValue);
        var tally = new CaseTally(options);
        var runner = new CaseRunner(options);
        if (options.Jobs == 1)
        {
            for (long index = firstCase; index < endCase && tally.Wants(); index++)
            {
                var (choice, outcome) = Case(runner, index);
                if (!tally.Add(index, choice, outcome))
                    break;
            }
        }
        else
        {
            CasePipeline.Run(runner, tally, firstCase, endCase);
        }
        if (tally.Violating is not { } found)
            return Report(options, firstCase, tally.Cases, tally.Events, tally.Elapsed, null);
        var shrinkClock = Stopwatch.StartNew();
        Gen<CaseChoice> gen = CaseChoice.Generator(options.EventsPerCase);
        // The case's size by CsCheck's order, where shrinking starts: the same generation again.
        Size size = CaseSize(gen, options, found.Index);
        (CaseChoice smallest, Outcome smallestOutcome) = Shrink(gen, found.Choice, size, found.Outcome, runner);
        Scenario reproducer = Reproducer(smallest, smallestOutcome, options);
        var finding = new FuzzFinding(smallestOutcome.Violation!, reproducer, found.Index, tally.Events, found.FoundAt,
            found.Choice.Events.Length, reproducer.Timeline.Count, shrinkClock.Elapsed);
        return Report(options, firstCase, tally.Cases, tally.Events, found.FoundAt, finding);
    }

    private static FuzzReport Report(FuzzOptions options, long firstCase, long cases, long events, TimeSpan elapsed, FuzzFinding? finding) =>
        new(options.Policy, options.Seed, options.Layout, cases, events, elapsed, finding) { FirstCase = firstCase };

    /// <summary>Case <paramref name="index"/> of the campaign: its own generator state, so any thread may run it.</summary>
    internal static (CaseChoice, Outcome) Case(CaseRunner runner, long index)
    {
        CaseChoice choice = CaseChoice.Draw(CasePcg(runner.Options, index), runner.Options.EventsPerCase);
        return (choice, runner.Execute(choice));
    }

    private static Size CaseSize(Gen<CaseChoice> gen, FuzzOptions options, long index)
    {
        gen.Generate(CasePcg(options, index), null, out Size size);
        return size;
    }

    private static PCG CasePcg(FuzzOptions options, long index) =>
        new((uint)(options.Seed & 0x7fffffff) | 1, options.Seed * 0x9E3779B97F4A7C15UL + (ulong)index);

    private static bool SameFailure(in Outcome o, InvariantViolation original) =>
        o.Violation is not null && o.Violation.Kind == original.Kind;

    private static (CaseChoice, Outcome) Shrink(Gen<CaseChoice> gen, CaseChoice choice, Size size, Outcome outcome, CaseRunner runner)
    {
        FuzzOptions options = runner.Options;
        InvariantViolation original = outcome.Violation!;
        int executions = 0;
        bool BudgetLeft() => executions < options.ShrinkExecutions;
        Outcome Try(CaseChoice candidate)
        {
            executions++;
            return runner.Execute(candidate);
        }

        // Nothing after the violating event matters.
        if (outcome.EventNumber > 0 && outcome.EventNumber < choice.Events.Length)
        {
            var cut = choice with { Events = choice.Events[..outcome.EventNumber] };
            Outcome o = Try(cut);
            if (SameFailure(o, original))
                (choice, outcome) = (cut, o);
        }

        // CsCheck's way: generate more cases, keep a failing one that is smaller by CsCheck's size order.
        for (int attempt = 0; attempt < 1000 && BudgetLeft(); attempt++)
        {
            var pcg = new PCG((uint)(options.Seed & 0x7fffffff) | 1, ~options.Seed * 0xD1B54A32D192ED03UL + (ulong)attempt);
            CaseChoice candidate = gen.Generate(pcg, size, out Size candidateSize);
            if (!Size.IsLessThan(candidateSize, size))
                continue;
            Outcome o = Try(candidate);
            if (SameFailure(o, original))
            {
                (choice, outcome, size) = (candidate, o, candidateSize);
                if (o.EventNumber > 0 && o.EventNumber < choice.Events.Length)
                    choice = choice with { Events = choice.Events[..o.EventNumber] };
            }
        }

        // Then structurally: drop events, then VMAs, one at a time, while the same invariant still breaks.
        bool progress = true;
        while (progress && BudgetLeft())
        {
            progress = false;
            for (int i = choice.Events.Length - 1; i >= 0 && BudgetLeft(); i--)
            {
                if (choice.Events.Length == 1)
                    break;
                var candidate = choice with { Events = [.. choice.Events[..i], .. choice.Events[(i + 1)..]] };
                Outcome o = Try(candidate);
                if (SameFailure(o, original))
                {
                    (choice, outcome) = (candidate, o);
                    progress = true;
                }
            }
            for (int i = choice.Vmas.Length - 1; i >= 0 && choice.Vmas.Length > 1 && BudgetLeft(); i--)
            {
                var candidate = choice with { Vmas = [.. choice.Vmas[..i], .. choice.Vmas[(i + 1)..]] };
                Outcome o = Try(candidate);
                if (SameFailure(o, original))
                {
                    (choice, outcome) = (candidate, o);
                    progress = true;
                }
            }
        }
        return (choice, outcome);
    }

    private static Scenario Reproducer(CaseChoice choice, Outcome outcome, FuzzOptions options)
    {
        Scenario s = FuzzCaseBuilder.Build(choice, options.Layout, options.Policy, options.Flavor);
        if (outcome.EventNumber > 0 && outcome.EventNumber < s.Timeline.Count)
            s.Timeline.RemoveRange(outcome.EventNumber, s.Timeline.Count - outcome.EventNumber);
        s.Name = $"fuzz-{options.Policy}-{outcome.Violation!.Kind}";
        s.Description = $"found by s2lab fuzz --policy {options.Policy}{(options.Flavor == VmFlavor.Pkvm ? " --pkvm" : "")} --seed {options.Seed} --layout {options.Layout.ToString().ToLowerInvariant()}: {outcome.Violation.Kind}";
        return s;
    }
}
