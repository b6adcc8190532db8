using System.CommandLine;
using System.Reflection;

namespace Stage2Lab.Cli;

/// <summary>
/// `s2lab examples DIR`: writes the example scenarios, scripts and import records shipped inside the tool (the
/// repository's examples/ folder, embedded at build time), so that an installed tool has them too.
/// </summary>
internal static class ExamplesCommand
{
    private const string Prefix = "examples/";

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var folder = new Argument<string>("folder") { Description = "Where to write them (created if missing)." };
        var force = new Option<bool>("--force") { Description = "Overwrite files that exist and differ." };
        var command = new Command("examples", "Write the example scenarios (examples/*.yaml, the fuzzer's bugs/), the page-table script and the import records to a folder, to run them from an installed tool.")
        {
            folder,
            force,
        };
        command.SetAction(parse => CommandGuard.Run(stderr, () =>
        {
            string root = Path.GetFullPath(parse.GetValue(folder)!);
            var files = Files().ToList();
            var clashes = files.Where(f => File.Exists(Path.Combine(root, f.Path)) && !File.ReadAllBytes(Path.Combine(root, f.Path)).AsSpan().SequenceEqual(f.Bytes)).Select(f => f.Path).ToList();
            if (clashes.Count > 0 && !parse.GetValue(force))
                throw new UsageException($"{root} already has different files of these names: {string.Join(", ", clashes.Take(5))}{(clashes.Count > 5 ? ", ..." : "")}; give another folder, or --force to overwrite them");
            foreach (var (path, bytes) in files)
            {
                string target = Path.Combine(root, path);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                AtomicFile.Write(target, bytes);
            }
            stdout.WriteLine($"{files.Count} example files written to {root}; try: s2lab compare {Path.Combine(root, "gpu-32g-bar-aligned.yaml")}");
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>Every embedded example: its path under examples/ (with / separators) and its bytes.</summary>
    internal static IEnumerable<(string Path, byte[] Bytes)> Files()
    {
        Assembly assembly = typeof(ExamplesCommand).Assembly;
        foreach (string name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using Stream stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            yield return (name[Prefix.Length..].Replace('\\', '/'), copy.ToArray());
        }
    }
}
