using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Scripts;

namespace Stage2Lab.Cli;

/// <summary>
/// A file named on the command line (or - for standard input), its kind recognised by content: a scenario, an
/// .s2ops or an .s2faults script. A command given the wrong kind says what the file is and what to run instead.
/// A regular file is read where it is; standard input, a FIFO or a device is read into memory once, with a bound.
/// </summary>
internal sealed class InputFile
{
    private readonly byte[]? _bytes;

    private InputFile(string path, string name, InputKind kind, byte[]? bytes)
    {
        Path = path;
        Name = name;
        Kind = kind;
        _bytes = bytes;
    }

    /// <summary>The path as given ("-" for standard input).</summary>
    public string Path { get; }

    /// <summary>The name messages use: the path, or &lt;stdin&gt;.</summary>
    public string Name { get; }

    public InputKind Kind { get; }

    public bool IsStdin => Path == "-";

    /// <summary>Opens and recognises <paramref name="path"/>; a missing file or a folder is a usage error.</summary>
    public static InputFile Open(string path)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new UsageException("the input path is empty; give a file (or - for standard input)");
        if (path == "-")
        {
            byte[] all = ReadAll(Console.OpenStandardInput(), "<stdin>");
            return new InputFile(path, "<stdin>", InputKinds.Detect(all), all);
        }
        if (Directory.Exists(path))
            throw new UsageException($"{path} is a folder; give a scenario or script file");
        if (!File.Exists(path))
            throw new UsageException($"{path}: no such file");
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
            if (!stream.CanSeek)
            {
                byte[] all = ReadAll(stream, path);
                return new InputFile(path, path, InputKinds.Detect(all, path), all);
            }
            byte[] head = BoundedRead.ReadAtMost(stream, InputKinds.SniffBytes);
            return new InputFile(path, path, InputKinds.Detect(head, path), null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new UsageException($"{path}: cannot read the file: {ex.Message}");
        }
    }

    private static byte[] ReadAll(Stream stream, string name)
    {
        byte[] bytes = BoundedRead.ReadAtMost(stream, ScriptSource.MaxPipedBytes);
        if (bytes.Length > ScriptSource.MaxPipedBytes)
            throw new UsageException($"{name}: more than {ScriptSource.MaxPipedBytes >> 20} MiB from a pipe; write it to a file and give the file");
        return bytes;
    }

    /// <summary>The scenario this file holds; another kind is a usage error naming the command to use.</summary>
    public Scenario LoadScenario()
    {
        if (Kind is InputKind.S2Ops or InputKind.S2Faults)
            throw new UsageException($"{Name} is {InputKinds.Describe(Kind)}, not a scenario: run it with `s2lab replay {Path}`"
                + (Kind == InputKind.S2Faults ? $", or explain one access with `s2lab explain {Path} --line N`" : ""));
        InternalError.Activity = $"reading {Name}";
        return _bytes is null ? ScenarioReader.Load(Path) : ScenarioReader.Load(_bytes, Name, Directory.GetCurrentDirectory());
    }

    /// <summary>
    /// The scenario text this file holds, its name for messages and the folder relative trace paths start from:
    /// to read the scenario again and again with other values (a sweep).
    /// </summary>
    public (string Text, string Name, string BaseDirectory) ScenarioText()
    {
        LoadScenario();
        string text = _bytes is null ? ScenarioReader.ReadText(Path) : ScenarioReader.DecodeText(_bytes, Name);
        string baseDirectory = _bytes is null ? System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))! : Directory.GetCurrentDirectory();
        return (text, Name, baseDirectory);
    }

    /// <summary>The script this file holds, to read line by line.</summary>
    public ScriptSource OpenScript()
    {
        if (Kind == InputKind.Scenario)
            throw new UsageException($"{Name} is {InputKinds.Describe(Kind)}, not a script: run it with `s2lab run {Path}` (or compare, check, explain --ipa)");
        InternalError.Activity = $"reading {Name}";
        return _bytes is null ? ScriptSource.OpenFile(Path) : ScriptSource.FromStream(new MemoryStream(_bytes, writable: false), Name);
    }
}
