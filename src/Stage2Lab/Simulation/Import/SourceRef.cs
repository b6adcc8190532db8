namespace Stage2Lab.Simulation.Import;

/// <summary>A line of an input record file: every imported fact, skipped line and error names one.</summary>
public readonly record struct SourceRef(string File, int Line)
{
    public override string ToString() => $"{File}:{Line}";
}

/// <summary>A line import could not use, with the reason (printed on stderr as `FILE:LINE: reason`).</summary>
public readonly record struct SkippedLine(SourceRef Where, string Reason)
{
    public override string ToString() => $"{Where}: {Reason}";
}
