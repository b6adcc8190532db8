using System.Diagnostics;
using Stage2Lab.Cli;

namespace Stage2Lab.Tests.Robustness;

/// <summary>Runs s2lab in-process (as CliTests does) or as its own process (for what only a process shows:
/// a stack overflow, /dev/stdout, the exit code of an unhandled exception).</summary>
internal static class CliProcess
{
    public static (int Code, string Out, string Err) InProcess(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>`dotnet s2lab.dll ARGS` with a time limit; the exit code, standard output and error.</summary>
    public static (int Code, string Out, string Err) Spawn(params string[] args) => Spawn(new Dictionary<string, string>(), args);

    /// <summary>`dotnet s2lab.dll ARGS` with extra environment variables.</summary>
    public static (int Code, string Out, string Err) Spawn(Dictionary<string, string> environment, params string[] args) =>
        SpawnWith(environment, null, null, args);

    /// <summary>`dotnet s2lab.dll ARGS` in <paramref name="workingDirectory"/> (when given), with <paramref name="stdin"/> as its standard input.</summary>
    public static (int Code, string Out, string Err) SpawnWith(Dictionary<string, string> environment, string? workingDirectory, string? stdin, params string[] args)
    {
        string dll = typeof(CliApp).Assembly.Location;
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var (name, value) in environment)
            info.Environment[name] = value;
        info.ArgumentList.Add(dll);
        foreach (string a in args)
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        if (stdin is not null)
            process.StandardInput.Write(stdin);
        process.StandardInput.Close();
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"s2lab {string.Join(' ', args)} ran for more than 60 s");
        }
        return (process.ExitCode, output.Result, error.Result);
    }

    /// <summary>
    /// `dotnet s2lab.dll ARGS` on a terminal of <paramref name="columns"/> columns (a pseudo-terminal from
    /// util-linux's `script`): what a user sees, escape sequences and all, stdout and stderr together.
    /// </summary>
    public static (int Code, string Screen) OnTerminal(int columns, Dictionary<string, string> environment, params string[] args)
    {
        string dll = typeof(CliApp).Assembly.Location;
        string command = $"stty cols {columns} rows 50; exec dotnet {Quote(dll)} {string.Join(' ', args.Select(Quote))}";
        var info = new ProcessStartInfo("script")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { "-q", "-f", "-e", "-c", command, "/dev/null" })
            info.ArgumentList.Add(a);
        info.Environment["TERM"] = "xterm-256color";
        info.Environment.Remove("NO_COLOR");
        foreach (var (name, value) in environment)
            info.Environment[name] = value;
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"s2lab {string.Join(' ', args)} on a terminal ran for more than 60 s");
        }
        return (process.ExitCode, output.Result);
    }

    private static string Quote(string arg) => "'" + arg.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>The screen text without escape sequences, carriage returns turned into line ends.</summary>
    public static string Plain(string screen) =>
        System.Text.RegularExpressions.Regex.Replace(screen, "\u001b\\[[0-9;?]*[a-zA-Z]|\u001b[=>]", "").Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');

    public static string TempDir() => Directory.CreateTempSubdirectory("s2lab-robust-").FullName;

    /// <summary>A small valid scenario (RAM, a 1G device BAR, two slots) to start from.</summary>
    public const string Base = """
        host:
          ram: [ { base: 0x8000_0000, size: 16G } ]
          devices: [ { name: bar, base: 0x100_0000_0000, size: 1G } ]
        mappings:
          - { name: ram, kind: anon, start: 0x7f00_0000_0000, size: 1G }
          - { name: bar, kind: pfnmap, start: 0x7000_0000_0000, size: 1G, device: bar }
        vm: { ipa-bits: 40 }
        memslots:
          - { id: 0, ipa: 0x4000_0000, mapping: ram }
          - { id: 1, ipa: 0x80_0000_0000, mapping: bar }

        """;
}
