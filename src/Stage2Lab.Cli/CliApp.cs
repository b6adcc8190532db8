using System.CommandLine;

namespace Stage2Lab.Cli;

/// <summary>The s2lab command line: parses, calls the library, prints.</summary>
public static class CliApp
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("Stage2Lab: how KVM/arm64 maps guest memory at stage 2, bit-exact with the kernel. " + ExitCodes.HelpText);
        root.Subcommands.Add(ScenarioCommands.Compare(stdout, stderr));
        root.Subcommands.Add(ScenarioCommands.Run(stdout, stderr));
        root.Subcommands.Add(ScenarioCommands.Explain(stdout, stderr));
        root.Subcommands.Add(CheckCommand.Create(stdout, stderr));
        root.Subcommands.Add(FuzzCommand.Create(stdout, stderr));
        root.Subcommands.Add(ReplayCommand.Create(stdout, stderr));
        root.Subcommands.Add(ImportCommand.Create(stdout, stderr));
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
                stderr.WriteLine($"s2lab: {Readable(error.Message)}");
            stderr.WriteLine("Run 's2lab --help' for usage.");
            return ExitCodes.BadInput;
        }
        try
        {
            // Without System.CommandLine's own handler, which prints a stack trace and exits with 1 (our "a
            // violation was found"): the commands catch what they expect; anything else is an internal error.
            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (Exception ex)
        {
            return InternalError.Report(stderr, ex);
        }
    }

    /// <summary>System.CommandLine names the .NET type a value did not parse as; say what was expected instead.</summary>
    private static string Readable(string message) =>
        System.Text.RegularExpressions.Regex.Replace(message, @"as expected type '([^']+)'", m => m.Groups[1].Value switch
        {
            var t when t.Contains("Int32", StringComparison.Ordinal) => "as a whole number (at most 2147483647)",
            var t when t.Contains("UInt64", StringComparison.Ordinal) => "as a whole number from 0 to 18446744073709551615",
            var t when t.Contains("Int64", StringComparison.Ordinal) => "as a whole number (at most 9223372036854775807)",
            var t when t.Contains("Double", StringComparison.Ordinal) => "as a number",
            _ => "as the expected kind of value",
        });
}
