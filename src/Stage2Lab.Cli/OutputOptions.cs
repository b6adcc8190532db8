using System.CommandLine;
using Stage2Lab.Reports;

namespace Stage2Lab.Cli;

/// <summary>What a command has to show, in each output format.</summary>
/// <param name="Tables">The tables (terminal and Markdown).</param>
/// <param name="Text">Prose after the tables on a terminal (decisions, an explanation).</param>
/// <param name="Markdown">The same prose as Markdown.</param>
/// <param name="Json">Writes the JSON document (the command's schema, docs/schema/) as UTF-8 to a stream; it may be
/// called again (when a file could not be written, the document goes to standard output).</param>
/// <param name="Html">The HTML report, when the command has one.</param>
internal sealed record CommandOutput(IReadOnlyList<ReportTable> Tables, string Text, string Markdown, Action<Stream> Json, Func<string>? Html)
{
    /// <summary>A JSON document made as one string (the small ones: advice, a script line's decision).</summary>
    public static Action<Stream> JsonText(Func<string> json) => stream => stream.Write(OutputOptions.Utf8.GetBytes(json()));
}

/// <summary>--format, --out and --report, shared by the commands that print results.</summary>
internal sealed class OutputOptions
{
    /// <summary>How every output is encoded: UTF-8 without a byte-order mark.</summary>
    internal static readonly System.Text.UTF8Encoding Utf8 = new(false);

    public Option<string> Format { get; } = new("--format") { DefaultValueFactory = _ => "table" };

    public Option<string?> Out { get; } = new("--out") { Description = "Write the output to this file (atomically) instead of standard output." };

    public Option<string?> Report { get; } = new("--report") { Description = "Also write a self-contained HTML report (IPA map, charts, explanations) to this file." };

    private readonly bool _withReport;

    /// <param name="withReport">Whether the command takes --report.</param>
    /// <param name="jsonSchema">The schema of the command's JSON document, named in --format's help.</param>
    public OutputOptions(bool withReport = true, string jsonSchema = JsonReport.Schema)
    {
        _withReport = withReport;
        Format.Description = $"The output format: table (readable, the default), json (schema {jsonSchema}, docs/schema/) or markdown.";
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
        if (_withReport)
            command.Options.Add(Report);
    }

    /// <summary>Before any work: every output path can be written (else exit 2 at once, nothing run).</summary>
    public void Preflight(ParseResult parse)
    {
        if (parse.GetValue(Out) is { } outFile)
            AtomicFile.EnsureWritable(outFile, Out.Name);
        if (_withReport && parse.GetValue(Report) is { } report)
            AtomicFile.EnsureWritable(report, Report.Name);
    }

    /// <summary>True when the user named this option (a usage check for options a mode does not take).</summary>
    public static bool Given(ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };

    /// <summary>
    /// Writes the output (or --out) and the optional HTML report. A write that fails this late still leaves the
    /// result on standard output, says what failed on stderr, and returns exit code 2 (else 0); the caller
    /// returns the worse of that and its own outcome.
    /// </summary>
    public int Emit(ParseResult parse, CommandOutput output, TextWriter stdout, TextWriter stderr)
    {
        string format = parse.GetValue(Format)!;
        string? outFile = parse.GetValue(Out);
        int code = ExitCodes.Ok;
        InternalError.Activity = $"writing the output ({format})";
        string Text() => format switch
        {
            "markdown" => string.Join("\n", output.Tables.Select(MarkdownWriter.Render).Append(output.Markdown).Where(part => part.Length > 0)),
            _ => TableRenderer.Render(output.Tables) + output.Text,
        };
        if (format == "json")
        {
            // Streamed: the document is written as it is serialized, to the file or to standard output.
            if (outFile is null)
            {
                WriteJson(stdout, output.Json);
            }
            else if (!TryWrite(outFile, output.Json, stderr, "the result is on standard output instead"))
            {
                WriteJson(stdout, output.Json);
                code = ExitCodes.BadInput;
            }
        }
        else if (outFile is null)
        {
            if (format == "table")
            {
                TableRenderer.Write(output.Tables, stdout);
                stdout.Write(output.Text);
            }
            else
            {
                stdout.Write(Text());
            }
        }
        else
        {
            string text = Text();
            if (!TryWrite(outFile, text, stderr, "the result is on standard output instead"))
            {
                stdout.Write(text);
                code = ExitCodes.BadInput;
            }
        }
        InternalError.Activity = "writing the HTML report";
        if (_withReport && parse.GetValue(Report) is { } report && output.Html is { } html && !TryWrite(report, html(), stderr, "no report was written"))
            code = ExitCodes.BadInput;
        return code;
    }

    /// <summary>Writes a file atomically; on failure says so on stderr and returns false.</summary>
    internal static bool TryWrite(string path, string content, TextWriter stderr, string instead) =>
        TryWrite(path, stream => stream.Write(Utf8.GetBytes(content)), stderr, instead);

    /// <summary>Writes a file atomically with <paramref name="write"/>; on failure says so on stderr and returns false.</summary>
    internal static bool TryWrite(string path, Action<Stream> write, TextWriter stderr, string instead)
    {
        try
        {
            AtomicFile.Write(path, write);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"s2lab: {ex.Message}; {instead}");
            return false;
        }
    }

    /// <summary>
    /// A streamed document to standard output: straight to the process's stdout stream (after what the writer
    /// holds), or, for a writer that is not the console's (tests), through a buffer.
    /// </summary>
    private static void WriteJson(TextWriter stdout, Action<Stream> json)
    {
        if (ReferenceEquals(stdout, Console.Out))
        {
            stdout.Flush();
            // Not disposed: that would close the process's standard output for whatever is written after.
            var buffered = new BufferedStream(Console.OpenStandardOutput(), 1 << 16);
            json(buffered);
            buffered.Flush();
            return;
        }
        using var memory = new MemoryStream();
        json(memory);
        stdout.Write(Utf8.GetString(memory.GetBuffer(), 0, (int)memory.Length));
    }
}
