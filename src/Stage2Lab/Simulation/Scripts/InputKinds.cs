using System.Text;

namespace Stage2Lab.Simulation.Scripts;

/// <summary>What an input file holds, recognised by its content.</summary>
public enum InputKind : byte
{
    /// <summary>Nothing tells: empty, comments only, or text of no known kind.</summary>
    Unknown,
    /// <summary>A scenario: YAML or JSON with host, mappings, vm, memslots, timeline (docs/scenario-format.md).</summary>
    Scenario,
    /// <summary>A stage-2 operation script (shared/spec/s2ops.md).</summary>
    S2Ops,
    /// <summary>A fault script (shared/spec/s2faults.md).</summary>
    S2Faults,
}

/// <summary>
/// Tells a scenario, an .s2ops script and an .s2faults script apart by their first lines, so that a file given to
/// the wrong command gets a message saying what it is and what to run instead (not a parser's complaint about a
/// line of another format). The keywords are the formats' own: a line starting with a word only one script
/// format has decides; a YAML key (`word:`) or a JSON/YAML flow opener decides for a scenario.
/// </summary>
public static class InputKinds
{
    /// <summary>How much of a file is looked at: the first lines of every real input say what it is.</summary>
    public const int SniffBytes = 64 * 1024;

    // shared/spec/s2ops.md: the operations (granule, ipa-bits, fwb and dump are shared with .s2faults).
    private static readonly HashSet<string> S2OpsOnly = ["map", "unmap", "wrprotect", "relax", "mkold", "mkyoung", "split"];

    // shared/spec/s2faults.md: host lines, events and headers that .s2ops does not have.
    private static readonly HashSet<string> S2FaultsOnly = ["ram", "vma", "remap", "slot", "slot-delete", "log", "dirty", "access", "munmap", "policy", "pkvm", "dic"];

    private static readonly HashSet<string> Shared = ["granule", "ipa-bits", "fwb", "dump"];

    /// <summary>The kind of <paramref name="head"/> (the start of a file), by content alone.</summary>
    public static InputKind Detect(ReadOnlySpan<byte> head)
    {
        string text = Encoding.UTF8.GetString(head[..Math.Min(head.Length, SniffBytes)]);
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.TrimEnd('\r').Trim();
            if (line.Length == 0 || line[0] == '#')
                continue;
            if (line[0] is '{' or '[' || line.StartsWith("---", StringComparison.Ordinal) || line.StartsWith("- ", StringComparison.Ordinal))
                return InputKind.Scenario;
            int end = 0;
            while (end < line.Length && !char.IsWhiteSpace(line[end]) && line[end] != ':')
                end++;
            string word = line[..end];
            if (end < line.Length && line[end] == ':')
                return InputKind.Scenario; // a YAML key: no script keyword ends with a colon
            if (S2OpsOnly.Contains(word))
                return InputKind.S2Ops;
            if (S2FaultsOnly.Contains(word))
                return InputKind.S2Faults;
            if (Shared.Contains(word) || word == "end")
                continue;
            return InputKind.Unknown;
        }
        return InputKind.Unknown;
    }

    /// <summary>The kind a file name's extension suggests (.yaml/.yml/.json, .s2ops, .s2faults), else Unknown.</summary>
    public static InputKind FromExtension(string path)
    {
        string ext = Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".yaml" or ".yml" or ".json" => InputKind.Scenario,
            ".s2ops" => InputKind.S2Ops,
            ".s2faults" => InputKind.S2Faults,
            _ => InputKind.Unknown,
        };
    }

    /// <summary>The kind by content, else by extension.</summary>
    public static InputKind Detect(ReadOnlySpan<byte> head, string path)
    {
        InputKind byContent = Detect(head);
        return byContent != InputKind.Unknown ? byContent : FromExtension(path);
    }

    /// <summary>How the kind is named in messages.</summary>
    public static string Describe(InputKind kind) => kind switch
    {
        InputKind.Scenario => "a scenario (YAML/JSON)",
        InputKind.S2Ops => "an .s2ops page-table script",
        InputKind.S2Faults => "an .s2faults fault script",
        _ => "of no kind s2lab knows",
    };
}
