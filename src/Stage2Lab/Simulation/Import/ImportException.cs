namespace Stage2Lab.Simulation.Import;

/// <summary>
/// Import cannot go on: an unreadable input (binary, empty, too large), nothing usable left, or two sources that
/// contradict each other. Each message names its file (and lines); the CLI prints them and exits with 2.
/// </summary>
public sealed class ImportException : Exception
{
    public ImportException(IReadOnlyList<string> messages, IReadOnlyList<SkippedLine>? skipped = null)
        : base(string.Join(Environment.NewLine, messages))
    {
        Messages = messages;
        Skipped = skipped ?? [];
    }

    public ImportException(string message)
        : this([message])
    {
    }

    public IReadOnlyList<string> Messages { get; }

    /// <summary>The lines skipped before import gave up (printed before the messages).</summary>
    public IReadOnlyList<SkippedLine> Skipped { get; }
}
