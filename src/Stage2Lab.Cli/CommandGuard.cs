using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Scripts;

namespace Stage2Lab.Cli;

/// <summary>
/// Runs a command body, turning input errors into messages and exit code 2, and anything unexpected into an
/// internal-error message and <see cref="ExitCodes.InternalError"/>.
/// </summary>
internal static class CommandGuard
{
    public static int Run(TextWriter stderr, Func<int> body)
    {
        InternalError.Activity = "running the command";
        try
        {
            return body();
        }
        catch (ScenarioException ex)
        {
            foreach (ScenarioError error in ex.Errors)
                stderr.WriteLine(error.ToString());
            stderr.WriteLine(ex.Errors.Count == 1 ? "1 error; nothing was run or written." : $"{ex.Errors.Count} errors; nothing was run or written.");
            return ExitCodes.BadInput;
        }
        catch (ScriptException ex)
        {
            stderr.WriteLine(ex.Message);
            return ExitCodes.BadInput;
        }
        catch (Stage2Lab.Simulation.Campaigns.CampaignException ex)
        {
            stderr.WriteLine("s2lab: " + ex.Message);
            return ExitCodes.BadInput;
        }
        catch (UsageException ex)
        {
            stderr.WriteLine("s2lab: " + ex.Message);
            return ExitCodes.BadInput;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine("s2lab: " + ex.Message);
            return ExitCodes.BadInput;
        }
        catch (Exception ex)
        {
            // Anything else is a bug: a short message and its own exit code, never 1 ("a violation was found").
            return InternalError.Report(stderr, ex);
        }
    }
}

/// <summary>A command-line mistake: a message and exit code 2.</summary>
internal sealed class UsageException : Exception
{
    public UsageException(string message)
        : base(message)
    {
    }
}
