namespace Stage2Lab.Simulation.Scripts;

/// <summary>A malformed script line: the run stops and the message names the file and line.</summary>
public sealed class ScriptException : Exception
{
    public ScriptException(string file, int line, string problem)
        : base($"{file}:{line}: {problem}")
    {
        File = file;
        Line = line;
        Problem = problem;
    }

    public string File { get; }

    public int Line { get; }

    public string Problem { get; }
}
