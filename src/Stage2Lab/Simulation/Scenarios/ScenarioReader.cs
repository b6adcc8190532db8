using Stage2Lab.Arch;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Stage2Lab.Simulation.Scenarios;

/// <summary>
/// Reads a scenario from YAML or JSON (the same model; JSON is read by the YAML parser, so errors carry line
/// and column either way). All errors of a file are collected and thrown together as a
/// <see cref="ScenarioException"/>.
/// </summary>
public static partial class ScenarioReader
{
    /// <summary>Largest size a scenario may use anywhere (2^52: the arm64 PA limit).</summary>
    public const ulong MaxSizeBytes = ScenarioLimits.MaxSizeBytes;

    private const ulong PaLimit = ScenarioLimits.PaLimit;

    public static Scenario Load(string path)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new ScenarioException([new ScenarioError("(no file name)", 0, 0, "", "the scenario path is empty; give the path of a YAML or JSON scenario file")]);
        string text = Decode(ReadBytes(path), path);
        return Parse(text, path, Path.GetDirectoryName(Path.GetFullPath(path)));
    }

    /// <summary>
    /// A scenario already read (standard input, a pipe): the same size and text checks as a file. Relative trace
    /// paths are taken from <paramref name="baseDirectory"/>.
    /// </summary>
    public static Scenario Load(byte[] bytes, string name, string? baseDirectory) => Parse(Decode(bytes, name), name, baseDirectory);

    /// <summary>
    /// The file's bytes, read with a bound (<see cref="ScenarioLimits.MaxScenarioFileBytes"/>) so that /dev/zero,
    /// a pipe or a huge file cannot exhaust memory.
    /// </summary>
    private static byte[] ReadBytes(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
            return BoundedRead.ReadAtMost(stream, ScenarioLimits.MaxScenarioFileBytes);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ScenarioException([new ScenarioError(path, 0, 0, "", "no such file; give the path of a YAML or JSON scenario (or - for standard input)")]);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ScenarioException([new ScenarioError(path, 0, 0, "", $"cannot read the file: {ex.Message}")]);
        }
    }

    /// <summary>The text of a scenario's bytes, refused when too large or holding a NUL byte (not a text file).</summary>
    private static string Decode(byte[] bytes, string name)
    {
        if (bytes.Length > ScenarioLimits.MaxScenarioFileBytes)
            throw new ScenarioException([new ScenarioError(name, 0, 0, "", $"the file is larger than {SizeText.Format((ulong)ScenarioLimits.MaxScenarioFileBytes)}, the limit for a scenario; a real one is a few KiB (put long access lists in a trace file)")]);
        int nul = Array.IndexOf(bytes, (byte)0);
        if (nul >= 0)
        {
            int line = 1 + bytes.AsSpan(0, nul).Count((byte)'\n');
            throw new ScenarioException([new ScenarioError(name, line, 0, "", "not a text file (a NUL byte); expected a YAML or JSON scenario")]);
        }
        using var reader = new StreamReader(new MemoryStream(bytes), System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }

    /// <summary>The text of a scenario file, read and checked as <see cref="Load(string)"/> does (to parse it again and again, e.g. with overrides).</summary>
    public static string ReadText(string path)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new ScenarioException([new ScenarioError("(no file name)", 0, 0, "", "the scenario path is empty; give the path of a YAML or JSON scenario file")]);
        return Decode(ReadBytes(path), path);
    }

    /// <summary>The text of a scenario already read (standard input), checked as <see cref="Load(byte[], string, string?)"/> does.</summary>
    public static string DecodeText(byte[] bytes, string name) => Decode(bytes, name);

    public static Scenario Parse(string text, string file, string? baseDirectory = null) => Parse(text, file, baseDirectory, []);

    /// <summary>
    /// Reads a scenario with some values replaced first (<see cref="ScenarioOverride"/>): each replaced value is
    /// validated as if the file held it, and its errors say it came from the override.
    /// </summary>
    public static Scenario Parse(string text, string file, string? baseDirectory, IReadOnlyList<ScenarioOverride> overrides)
    {
        var stream = new YamlStream();
        var parser = new BoundedYamlParser(new Parser(new StringReader(text)));
        try
        {
            stream.Load(parser);
        }
        catch (YamlException ex)
        {
            throw new ScenarioException([new ScenarioError(file, (int)ex.Start.Line, (int)ex.Start.Column, "", $"not valid YAML/JSON: {ex.InnerException?.Message ?? ex.Message}")]);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or FormatException or OverflowException or IndexOutOfRangeException or NullReferenceException)
        {
            // YamlDotNet throws these without a position on some malformed flow collections (an unclosed '{'
            // followed by another line): name where the parser got to.
            throw new ScenarioException([new ScenarioError(file, (int)parser.LastStart.Line, (int)parser.LastStart.Column, "", $"not valid YAML/JSON after this point (an unclosed '{{' or '[', or a missing ',' or ':'?)")]);
        }
        if (stream.Documents.Count == 0)
            throw new ScenarioException([new ScenarioError(file, 1, 1, "", "the file is empty; expected a mapping with host, mappings, vm, memslots, timeline")]);

        string[] overridden = overrides.Count == 0 ? [] : ScenarioKeyPaths.Apply(stream.Documents[0].RootNode, overrides, file);
        var r = new YamlNodeReader(file);
        var scenario = new Scenario { SourceFile = file };
        var binder = new Binder(r, scenario, baseDirectory ?? Directory.GetCurrentDirectory());
        binder.Root(stream.Documents[0].RootNode);
        if (r.Errors.Count == 0)
            binder.Validate();
        if (r.Errors.Count > 0)
            throw new ScenarioException(r.Errors.OrderBy(e => e.Line).ThenBy(e => e.Column).Select(e => FromOverride(e, overrides, overridden)).ToList());
        return scenario;
    }

    /// <summary>An error at an overridden key says which override set the value (the file's line holds another).</summary>
    private static ScenarioError FromOverride(ScenarioError error, IReadOnlyList<ScenarioOverride> overrides, string[] overridden)
    {
        int i = Array.IndexOf(overridden, error.Path);
        return i < 0 ? error : error with { Message = $"{error.Message} (the value '{overrides[i].Value}' was set by --vary {overrides[i].Key})" };
    }
}
