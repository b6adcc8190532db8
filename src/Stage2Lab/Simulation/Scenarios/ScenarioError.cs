namespace Stage2Lab.Simulation.Scenarios;

/// <summary>One problem in a scenario file: where (file, line, column, key path), what, and what would be valid.</summary>
public sealed record ScenarioError(string File, int Line, int Column, string Path, string Message)
{
    /// <summary>FILE:LINE:COL: key.path: message; a whole-file problem (line 0) is FILE: message.</summary>
    public override string ToString()
    {
        string where = Line <= 0 ? File : $"{File}:{Line}:{Column}";
        return string.IsNullOrEmpty(Path) ? $"{where}: {Message}" : $"{where}: {Path}: {Message}";
    }
}

/// <summary>A scenario that cannot be run: every error found in the file, together.</summary>
public sealed class ScenarioException : Exception
{
    public ScenarioException(IReadOnlyList<ScenarioError> errors)
        : base(string.Join(Environment.NewLine, errors))
    {
        Errors = errors;
    }

    public IReadOnlyList<ScenarioError> Errors { get; }
}
