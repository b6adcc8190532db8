using System.CommandLine;
using System.CommandLine.Invocation;

namespace Stage2Lab.Cli;

/// <summary>The s2lab command line: parses, calls the library, prints.</summary>
public static class CliApp
{
    public static RootCommand Build(TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("Stage2Lab: how KVM/arm64 maps guest memory at stage 2, bit-exact with the kernel. " + ExitCodes.HelpText);
        root.Subcommands.Add(ScenarioCommands.Compare(stdout, stderr));
        root.Subcommands.Add(ScenarioCommands.Run(stdout, stderr));
        root.Subcommands.Add(ExplainCommand.Create(stdout, stderr));
        root.Subcommands.Add(CheckCommand.Create(stdout, stderr));
        root.Subcommands.Add(FuzzCommand.Create(stdout, stderr));
        root.Subcommands.Add(ReplayCommand.Create(stdout, stderr));
        root.Subcommands.Add(ImportCommand.Create(stdout, stderr));
        root.Subcommands.Add(ExamplesCommand.Create(stdout, stderr));
        root.Subcommands.Add(AdviseCommand.Create(stdout, stderr));
        root.Subcommands.Add(SweepCommand.Create(stdout, stderr));
        root.Subcommands.Add(MergeCommand.Create(stdout, stderr));
        return root;
    }

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        RootCommand root = Build(stdout, stderr);
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // System.CommandLine's own handling: the errors, "did you mean" for a typo, and the help of the
            // command that was being parsed, all on stderr; only the exit code is ours (2: bad input, where its
            // own is 1, which s2lab keeps for "a violation was found").
            if (parse.Action is ParseErrorAction action)
            {
                action.ShowHelp = true;
                action.ShowTypoCorrections = true;
            }
            parse.Invoke(new InvocationConfiguration { Output = stderr, Error = stderr, EnableDefaultExceptionHandler = false });
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
}
