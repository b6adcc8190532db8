namespace Stage2Lab.Cli;

/// <summary>
/// What to say when s2lab fails in a way it did not expect: one short message saying what was being done and
/// how to report it, and <see cref="ExitCodes.InternalError"/>. The stack trace only with S2LAB_DEBUG=1.
/// </summary>
internal static class InternalError
{
    /// <summary>What the command is doing, for the message (set as a command goes from step to step).</summary>
    [ThreadStatic]
    private static string? t_activity;

    public static string Activity
    {
        get => t_activity ?? "running the command";
        set => t_activity = value;
    }

    public static int Report(TextWriter stderr, Exception ex)
    {
        if (ex is OutOfMemoryException or InsufficientExecutionStackException)
        {
            stderr.WriteLine($"s2lab: out of memory while {Activity}.");
            stderr.WriteLine("The run needed more than its estimate; lower the scenario's sizes or counts, or raise the limit with --max-memory SIZE if the machine has the memory. Please report it too: the estimate should have caught it.");
        }
        else
        {
            stderr.WriteLine($"s2lab: internal error while {Activity}: {ex.GetType().Name}: {ex.Message}");
            stderr.WriteLine("This is a bug in s2lab, not in your input. Please report it with the command line and the input files (S2LAB_DEBUG=1 prints the stack trace).");
        }
        if (Environment.GetEnvironmentVariable("S2LAB_DEBUG") == "1")
            stderr.WriteLine(ex.ToString());
        return ExitCodes.InternalError;
    }
}
