using System.Diagnostics;
using Spectre.Console;

namespace Stage2Lab.Cli;

/// <summary>
/// Progress on stderr with Spectre.Console's Progress: one task per policy (or per campaign), honest percentages
/// (accesses played out of the run's total; for a time-limited fuzz campaign, the larger of its share of the
/// events and of the seconds), elapsed time, and a spinner while a phase without accesses (slot creation) works.
/// Nothing at all when stderr is not a terminal, so pipes, files and CI logs stay clean.
/// </summary>
internal sealed class ProgressDisplay
{
    private readonly ProgressContext? _context;

    private ProgressDisplay(ProgressContext? context) => _context = context;

    /// <summary>True when progress is drawn: stderr is the process's own and a terminal.</summary>
    public static bool IsShown(TextWriter stderr) => ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected;

    /// <summary>Runs <paramref name="work"/> with progress drawn on stderr when it is a terminal, cleared at the end.</summary>
    public static T Run<T>(TextWriter stderr, Func<ProgressDisplay, T> work)
    {
        if (!IsShown(stderr))
            return work(new ProgressDisplay(null));
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.Detect,
            ColorSystem = ColorSystemSupport.Detect,
            Out = new AnsiConsoleOutput(Console.Error),
        });
        return console.Progress()
            .AutoClear(true)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(context => work(new ProgressDisplay(context)));
    }

    /// <summary>A task, not started yet (shown waiting) until <see cref="Line.Start"/>.</summary>
    public Line Add(string description) => new(_context?.AddTask(Markup.Escape(description), autoStart: false, maxValue: 1));

    /// <summary>One line of progress; every method does nothing when progress is not shown.</summary>
    internal sealed class Line
    {
        private readonly ProgressTask? _task;
        private readonly Stopwatch _clock = new();
        private Timer? _timer;
        private long _events;
        private long _maxEvents;
        private double _maxSeconds;

        public Line(ProgressTask? task) => _task = task;

        public void Start()
        {
            _clock.Start();
            _task?.StartTask();
        }

        /// <summary>Accesses played so far out of the run's total.</summary>
        public void Report(long done, long total)
        {
            if (_task is null || total <= 0)
                return;
            _task.MaxValue = total;
            _task.Value = Math.Min(done, total);
        }

        /// <summary>
        /// A campaign limited by events, seconds or both: the share done is the larger of the two shares (it ends
        /// at whichever limit comes first). With a time limit the share moves with the clock, between reports too.
        /// </summary>
        public void Limit(long maxEvents, double maxSeconds)
        {
            _maxEvents = maxEvents;
            _maxSeconds = maxSeconds;
            if (_task is not null && maxSeconds > 0)
                _timer = new Timer(_ => Update(), null, TimeSpan.Zero, TimeSpan.FromMilliseconds(100));
        }

        /// <summary>Events done so far in a campaign with <see cref="Limit"/>.</summary>
        public void ReportEvents(long events)
        {
            Interlocked.Exchange(ref _events, events);
            Update();
        }

        private void Update()
        {
            if (_task is null)
                return;
            double byEvents = _maxEvents > 0 ? (double)Interlocked.Read(ref _events) / _maxEvents : 0;
            double bySeconds = _maxSeconds > 0 ? _clock.Elapsed.TotalSeconds / _maxSeconds : 0;
            _task.MaxValue = 1;
            _task.Value = Math.Min(1.0, Math.Max(byEvents, bySeconds));
        }

        public void Done()
        {
            _timer?.Dispose();
            _timer = null;
            if (_task is null)
                return;
            _task.Value = _task.MaxValue;
            _task.StopTask();
        }
    }
}
