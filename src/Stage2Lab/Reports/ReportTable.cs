namespace Stage2Lab.Reports;

/// <summary>
/// A table as data: a title, column headers and rows of cells. The library builds these; the tool renders them
/// (a terminal table, Markdown, HTML), so every format shows the same numbers.
/// </summary>
public sealed class ReportTable
{
    public ReportTable(string title, params string[] columns)
    {
        Title = title;
        Columns = columns;
    }

    public string Title { get; }

    public IReadOnlyList<string> Columns { get; }

    public List<string[]> Rows { get; } = new();

    /// <summary>Rows that start a group (drawn with a rule above on a terminal).</summary>
    public HashSet<int> SectionStarts { get; } = new();

    public List<string> Notes { get; } = new();

    public void Add(params string[] cells)
    {
        if (cells.Length != Columns.Count)
            throw new ArgumentException($"row has {cells.Length} cells, table '{Title}' has {Columns.Count} columns", nameof(cells));
        Rows.Add(cells);
    }

    public void Section() => SectionStarts.Add(Rows.Count);
}
