using Spectre.Console;
using Spectre.Console.Rendering;
using Stage2Lab.Reports;

namespace Stage2Lab.Cli;

/// <summary>
/// Renders the library's report tables with Spectre.Console. On a terminal, Spectre detects the width and the
/// colours (NO_COLOR is honoured); anywhere else (a pipe, a file, --out) there is no colour and no width limit,
/// so no line is ever wrapped for a reader that is not a terminal.
/// </summary>
internal static class TableRenderer
{
    /// <summary>Wide enough that no table or note is ever wrapped when the output is not a terminal.</summary>
    private const int UnboundedWidth = 100_000;

    /// <summary>True when <paramref name="target"/> is the process's standard output and that is a terminal.</summary>
    public static bool IsTerminal(TextWriter target) => ReferenceEquals(target, Console.Out) && !Console.IsOutputRedirected;

    /// <summary>Writes the tables to <paramref name="target"/>: to a terminal with its width and colours, else plain.</summary>
    public static void Write(IEnumerable<ReportTable> tables, TextWriter target)
    {
        if (!IsTerminal(target))
        {
            target.Write(Render(tables));
            return;
        }
        // Spectre detects the terminal's width and colour support (and honours NO_COLOR).
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.Detect,
            ColorSystem = ColorSystemSupport.Detect,
            Out = new AnsiConsoleOutput(Console.Out),
        });
        WriteTo(console, tables);
    }

    /// <summary>The tables as plain text: no colour, no width limit (for a pipe, a file, --out).</summary>
    public static string Render(IEnumerable<ReportTable> tables)
    {
        var writer = new StringWriter();
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = UnboundedWidth;
        WriteTo(console, tables);
        return writer.ToString();
    }

    private static void WriteTo(IAnsiConsole console, IEnumerable<ReportTable> tables)
    {
        foreach (ReportTable table in tables)
        {
            // The title as a line of its own: a table title would be wrapped to the table's width.
            console.Write(new Markup("[bold]" + Markup.Escape(table.Title) + "[/]\n"));
            console.Write(Build(table));
            foreach (string note in table.Notes)
                console.Write(new Markup("[grey]" + Markup.Escape(note) + "[/]\n"));
            console.WriteLine();
        }
    }

    private static Table Build(ReportTable report)
    {
        var table = new Table { Border = TableBorder.Rounded };
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
