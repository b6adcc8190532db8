using System.CommandLine;
using Stage2Lab.Simulation.Scripts;

namespace Stage2Lab.Cli;

/// <summary>`s2lab replay FILE|-`: run an .s2ops or .s2faults script and print what it asks for.</summary>
internal static class ReplayCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var file = new Argument<string>("file") { Description = "The script: an .s2ops or .s2faults file, or - for standard input." };
        var stats = new Option<bool>("--stats") { Description = "After the last `end`, print the event counts (descriptor writes, TLBIs, cache maintenance, table pages)." };
        var format = new Option<string?>("--format") { Description = "s2ops or s2faults; by default taken from the file extension (s2ops for standard input)." };
        format.AcceptOnlyFromAmong("s2ops", "s2faults");
        var command = new Command("replay", "Run a stage-2 op script (.s2ops) or fault script (.s2faults) through the model and print its output. " + ExitCodes.HelpText)
        {
            file,
            stats,
            format,
        };
        command.SetAction(parse => ScenarioCommands.Guard(stderr, () =>
        {
            string path = parse.GetValue(file)!;
            string kind = parse.GetValue(format) ?? (path.EndsWith(".s2faults", StringComparison.OrdinalIgnoreCase) ? "s2faults" : "s2ops");
            InternalError.Activity = $"replaying {(path == "-" ? "standard input" : path)}";
            return Run(path, kind, parse.GetValue(stats), stdout, stderr);
        }));
        return command;
    }

    private static int Run(string path, string kind, bool stats, TextWriter stdout, TextWriter stderr)
    {
        ScriptSource source;
        try
        {
            source = path == "-" ? ScriptSource.FromStream(Console.OpenStandardInput(), "<stdin>") : ScriptSource.OpenFile(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            stderr.WriteLine($"s2lab replay: cannot read '{path}': {ex.Message}");
            return ExitCodes.BadInput;
        }

        using (source)
        {
            var output = new StreamWriter(Console.OpenStandardOutput(), new System.Text.UTF8Encoding(false), 1 << 16) { AutoFlush = false };
            TextWriter writer = ReferenceEquals(stdout, Console.Out) ? output : stdout;
            try
            {
                if (kind == "s2faults")
                    S2FaultsScript.Run(source, writer, stats);
                else
                    S2OpsScript.Run(source, writer, stats);
                writer.Flush();
                return ExitCodes.Ok;
            }
            catch (ScriptException ex)
            {
                writer.Flush();
                stderr.WriteLine(ex.Message);
                return ExitCodes.BadInput;
            }
        }
    }
}
