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
    public static (int Code, string Out, string Err) Spawn(Dictionary<string, string> environment, params string[] args)
    {
        string dll = typeof(CliApp).Assembly.Location;
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
            info.Environment[name] = value;
        info.ArgumentList.Add(dll);
        foreach (string a in args)
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
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
