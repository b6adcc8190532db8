using System.Diagnostics;

namespace Stage2Lab.Cli;

/// <summary>
/// A progress bar on stderr for runs that take more than a second; silent when stderr is not a terminal, so
/// redirected output and CI logs stay clean.
/// </summary>
internal sealed class ProgressBar
{
    private readonly TextWriter _stderr;
    private readonly bool _enabled;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private bool _drawn;

    public ProgressBar(TextWriter stderr)
    {
        _stderr = stderr;
        _enabled = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected;
    }

    public string Label { get; set; } = "";

    public void Report(ulong done, ulong total)
    {
        if (!_enabled || total == 0 || _clock.ElapsedMilliseconds < 1000)
            return;
        double fraction = Math.Min(1.0, (double)done / total);
        const int width = 30;
        int filled = (int)(fraction * width);
        _stderr.Write($"\r{Label,-10} [{new string('#', filled)}{new string('-', width - filled)}] {fraction * 100,5:0.0}% ");
        _drawn = true;
    }

    public void Done()
    {
        if (_drawn)
            _stderr.Write("\r" + new string(' ', 60) + "\r");
        _drawn = false;
    }
}
