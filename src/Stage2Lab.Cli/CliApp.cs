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
                stderr.WriteLine($"s2lab: {error.Message}");
            stderr.WriteLine("Run 's2lab --help' for usage.");
            return ExitCodes.BadInput;
        }
        return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
    }
}
