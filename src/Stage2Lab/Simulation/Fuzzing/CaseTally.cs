using System.Diagnostics;

namespace Stage2Lab.Simulation.Fuzzing;

/// <summary>The first violating case a campaign met, and when.</summary>
internal readonly record struct ViolatingCase(long Index, CaseChoice Choice, Outcome Outcome, TimeSpan FoundAt);

/// <summary>
/// A campaign's count of cases and events, taken in case index order exactly as one thread takes them: the
/// budgets are checked before each case (<see cref="Wants"/>), and the first violation ends the campaign
/// (<see cref="Add"/>). Whatever ran cases ahead, the count is the same. Not thread-safe: the pipeline calls it
/// under its lock.
/// </summary>
internal sealed class CaseTally(FuzzOptions options)
{
    /// <summary>Events between two calls of <see cref="FuzzOptions.Progress"/>.</summary>
    private const long ProgressEvents = 20_000;

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _nextProgress;

    public long Cases { get; private set; }

    public long Events { get; private set; }

    public ViolatingCase? Violating { get; private set; }

    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Whether the campaign goes on to its next case: no violation yet, and no budget spent.</summary>
    public bool Wants() =>
        Violating is null
        && !(options.MaxEvents > 0 && Events >= options.MaxEvents)
        && !(options.Seconds > 0 && _clock.Elapsed.TotalSeconds >= options.Seconds);

    /// <summary>Counts the next case (index order); false when it violates, which ends the campaign.</summary>
    public bool Add(long index, CaseChoice choice, in Outcome outcome)
    {
        Events += outcome.Events;
        Cases++;
        if (outcome.Violation is not null)
        {
            Violating = new ViolatingCase(index, choice, outcome, _clock.Elapsed);
            return false;
        }
        if (options.Progress is not null && Events >= _nextProgress)
        {
            options.Progress(Events, options.MaxEvents);
            _nextProgress = Events + ProgressEvents;
        }
        return true;
    }
}
