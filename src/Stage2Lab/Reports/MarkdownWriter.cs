using System.Text;

namespace Stage2Lab.Reports;

/// <summary>Renders report tables as GitHub-flavoured Markdown.</summary>
public static class MarkdownWriter
{
    public static string Render(ReportTable table)
    {
        var md = new StringBuilder();
        md.Append("### ").Append(Escape(table.Title)).Append("\n\n");
        md.Append('|').Append(string.Join('|', table.Columns.Select(c => " " + Escape(c) + " "))).Append("|\n");
        md.Append('|').Append(string.Join('|', table.Columns.Select((_, i) => i == 0 ? "---" : "---:"))).Append("|\n");
        foreach (string[] row in table.Rows)
            md.Append('|').Append(string.Join('|', row.Select(c => " " + Escape(c) + " "))).Append("|\n");
        if (table.Notes.Count > 0)
        {
            md.Append('\n');
            foreach (string note in table.Notes)
                md.Append("- ").Append(Escape(note)).Append('\n');
        }
        return md.ToString();
    }

    private static string Escape(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);
}
