using System.CommandLine;
using Stage2Lab.Reports;
using Stage2Lab.Simulation.Runs;

namespace Stage2Lab.Cli;

/// <summary>--format, --out and --report, shared by run, compare and explain.</summary>
internal sealed class OutputOptions
{
    public Option<string> Format { get; } = new("--format")
    {
        Description = "table (a readable table, the default), json (the documented stage2lab.result/2 schema) or markdown.",
        DefaultValueFactory = _ => "table",
    };

    public Option<string?> Out { get; } = new("--out") { Description = "Write the output to this file (atomically) instead of standard output." };

    public Option<string?> Report { get; } = new("--report") { Description = "Also write a self-contained HTML report (IPA map, charts, explanations) to this file." };

    public OutputOptions()
    {
        Format.AcceptOnlyFromAmong("table", "json", "markdown");
        NotEmpty(Out);
        NotEmpty(Report);
    }

    /// <summary>An empty file name is a usage error (exit 2) before anything runs.</summary>
    internal static void NotEmpty(Option<string?> option) =>
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && string.IsNullOrWhiteSpace(result.Tokens[^1].Value))
                result.AddError($"{option.Name} needs a file name, got an empty one");
        });

    public void AddTo(Command command)
    {
        command.Options.Add(Format);
        command.Options.Add(Out);
        command.Options.Add(Report);
    }

    /// <summary>Writes the tables (or JSON) and the optional HTML report.</summary>
    public void Emit(ParseResult parse, ScenarioResult result, IReadOnlyList<ReportTable> tables, string extraText, TextWriter stdout)
    {
        string format = parse.GetValue(Format)!;
        string? outFile = parse.GetValue(Out);
        string text = format switch
        {
            "json" => JsonReport.Render(result),
            "markdown" => string.Join("\n", tables.Select(MarkdownWriter.Render)) + (extraText.Length > 0 ? "\n```\n" + extraText + "```\n" : ""),
            _ => TableRenderer.Render(tables, colour: outFile is null && ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected) + extraText,
        };
        if (parse.GetValue(Report) is { } report)
            AtomicFile.Write(report, HtmlReport.Render(result));
        if (outFile is not null)
            AtomicFile.Write(outFile, text);
        else
            stdout.Write(text);
    }
}
