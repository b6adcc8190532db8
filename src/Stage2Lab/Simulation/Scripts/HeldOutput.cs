using System.Text;

namespace Stage2Lab.Simulation.Scripts;

/// <summary>
/// Output held back while a script runs, so that a malformed line leaves no partial output even though the
/// script is parsed and run in one pass. A run's output waits in memory until the script has been read to its
/// end; an output that grows past a limit is released early, once the rest of the script has been checked
/// (<see cref="S2OpsScript"/>), so memory stays bounded.
/// </summary>
internal sealed class HeldOutput
{
    /// <summary>Characters held before the rest of a script is checked and the output released (8 MiB of text).</summary>
    public const int DefaultLimit = 4 << 20;

    private readonly TextWriter _output;
    private readonly int _limit;
    private StringWriter? _held;

    public HeldOutput(TextWriter output, int limit = DefaultLimit)
    {
        _output = output;
        _limit = limit;
        // Formats numbers exactly as the real output would.
        _held = new StringWriter(new StringBuilder(), output.FormatProvider) { NewLine = output.NewLine };
    }

    /// <summary>Where output goes now: the held text, or the real output once released.</summary>
    public TextWriter Writer => _held ?? _output;

    /// <summary>More text is held than the limit allows.</summary>
    public bool IsOverLimit => _held is not null && _held.GetStringBuilder().Length > _limit;

    /// <summary>Writes what was held to the real output; from now on output goes straight there.</summary>
    public void Release()
    {
        if (_held is null)
            return;
        foreach (ReadOnlyMemory<char> chunk in _held.GetStringBuilder().GetChunks())
            _output.Write(chunk.Span);
        _held = null;
    }
}
