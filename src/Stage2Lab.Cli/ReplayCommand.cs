using System.CommandLine;
using Stage2Lab.Simulation.Scripts;

namespace Stage2Lab.Cli;

/// <summary>`s2lab replay FILE|-`: run an .s2ops or .s2faults script and print what it asks for.</summary>
internal static class ReplayCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var file = new Argument<string>("file") { Description = "The script: an .s2ops or .s2faults file, or - for standard input. Its kind is recognised by its content." };
        var stats = new Option<bool>("--stats") { Description = "After the last `end`, print the event counts (descriptor writes, TLBIs, cache maintenance, table pages)." };
        var kind = new Option<string?>("--kind") { Description = "The script's kind when its content does not tell (a script of headers only): s2ops or s2faults. By default recognised from the content, then the file extension." };
        kind.AcceptOnlyFromAmong("s2ops", "s2faults");
        var command = new Command("replay", "Run a stage-2 op script (.s2ops) or fault script (.s2faults) through the model and print its output.")
        {
            file,
            stats,
            kind,
        };
        command.SetAction(parse => CommandGuard.Run(stderr, () =>
        {
            InputFile input = InputFile.Open(parse.GetValue(file)!);
            InputKind detected = parse.GetValue(kind) switch
            {
                "s2faults" => InputKind.S2Faults,
                "s2ops" => InputKind.S2Ops,
                _ => input.Kind == InputKind.Unknown ? InputKind.S2Ops : input.Kind,
            };
            if (input.Kind == InputKind.Scenario && parse.GetValue(kind) is null)
                input.OpenScript(); // says what the file is and what to run instead
            InternalError.Activity = $"replaying {input.Name}";
            return Run(input, detected, parse.GetValue(stats), stdout, stderr);
        }));
        return command;
    }

    private static int Run(InputFile input, InputKind kind, bool stats, TextWriter stdout, TextWriter stderr)
    {
        using ScriptSource source = input.OpenScript();
        var output = new StreamWriter(Console.OpenStandardOutput(), new System.Text.UTF8Encoding(false), 1 << 16) { AutoFlush = false };
        TextWriter writer = ReferenceEquals(stdout, Console.Out) ? output : stdout;
        try
        {
            if (kind == InputKind.S2Faults)
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
