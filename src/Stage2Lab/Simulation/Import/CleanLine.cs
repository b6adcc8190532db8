namespace Stage2Lab.Simulation.Import;

/// <summary>
/// One logical input line after the paste debris is removed: its first physical line number, the text without
/// quote markers, leading blanks or trailing annotations, and how far it was indented (iomem nesting).
/// </summary>
public readonly record struct CleanLine(int Number, string Text, int Indent);
