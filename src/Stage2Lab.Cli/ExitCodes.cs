namespace Stage2Lab.Cli;

/// <summary>The exit codes of every command, said once in the root help (`s2lab --help`).</summary>
public static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Ok = 0;

    /// <summary>The run completed but found a problem (an invariant broke, a fuzz campaign found a violation).</summary>
    public const int Failed = 1;

    /// <summary>Bad input: a malformed script or scenario, a bad flag, a missing file, a run beyond a documented limit.</summary>
    public const int BadInput = 2;

    /// <summary>
    /// An internal error: an exception s2lab did not expect, i.e. a bug in s2lab rather than in the input
    /// (EX_SOFTWARE of sysexits.h). Never 1, which means "the run found a violation".
    /// </summary>
    public const int InternalError = 70;

    public const string HelpText = "Exit codes of every command: 0 success, 1 the run found a problem (e.g. an invariant violation), 2 bad input (malformed file, bad option, missing file, a run beyond a documented limit, an output that cannot be written), 70 internal error (a bug in s2lab: please report it).";

    /// <summary>The worse of two outcomes (a violation found, then an output that could not be written: 2).</summary>
    public static int Worse(int a, int b) => Math.Max(a, b);
}
