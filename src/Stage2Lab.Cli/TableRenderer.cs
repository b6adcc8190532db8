using Spectre.Console;
using Spectre.Console.Rendering;
using Stage2Lab.Reports;

namespace Stage2Lab.Cli;

/// <summary>Renders the library's report tables on a terminal with Spectre.Console.</summary>
internal static class TableRenderer
{
    public static string Render(IEnumerable<ReportTable> tables, bool colour)
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = colour ? AnsiSupport.Yes : AnsiSupport.No,
            ColorSystem = colour ? ColorSystemSupport.Standard : ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = Math.Max(100, colour ? Console.WindowWidth : 160);
        foreach (ReportTable table in tables)
        {
            console.Write(Build(table));
            foreach (string note in table.Notes)
                console.Write(new Markup("[grey]" + Markup.Escape(note) + "[/]\n"));
            console.WriteLine();
        }
        return writer.ToString();
    }

    private static Table Build(ReportTable report)
    {
        var table = new Table { Border = TableBorder.Rounded, Title = new TableTitle(Markup.Escape(report.Title)) };
        for (int i = 0; i < report.Columns.Count; i++)
        {
            var column = new TableColumn(Markup.Escape(report.Columns[i]));
            if (i > 0)
                column.RightAligned();
            table.AddColumn(column);
        }
        for (int r = 0; r < report.Rows.Count; r++)
        {
            if (report.SectionStarts.Contains(r) && r > 0)
                table.AddEmptyRow();
            var cells = new List<IRenderable>();
            foreach (string cell in report.Rows[r])
                cells.Add(new Markup(Markup.Escape(cell)));
            table.AddRow(cells);
        }
        return table;
    }
}
