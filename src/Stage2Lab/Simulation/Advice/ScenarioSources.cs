using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Advice;

/// <summary>
/// Where the items of a scenario came from, as its file says: `s2lab import` writes a comment naming the record
/// lines (`# from smaps.txt:76, qemu-trace.txt:14`) above every item it wrote. A hand-written scenario has none.
/// </summary>
public sealed class ScenarioSources
{
    private const string FromPrefix = "# from ";

    private readonly string[] _lines;

    private ScenarioSources(string[] lines) => _lines = lines;

    public static ScenarioSources None { get; } = new([]);

    public static ScenarioSources FromText(string text) => new(text.ReplaceLineEndings("\n").Split('\n'));

    /// <summary>The file's comments (none when it cannot be read again, or is larger than a scenario may be).</summary>
    public static ScenarioSources Read(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists || info.Length > ScenarioLimits.MaxScenarioFileBytes)
                return None;
            return FromText(File.ReadAllText(path));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return None;
        }
    }

    /// <summary>The record lines named in the comments right above the item at <paramref name="where"/>; null when none.</summary>
    public string? For(SourceSpan where)
    {
        var found = new List<string>();
        for (int index = where.Line - 2; index >= 0 && index < _lines.Length; index--)
        {
            string line = _lines[index].Trim();
            if (!line.StartsWith('#'))
                break;
            if (line.StartsWith(FromPrefix, StringComparison.Ordinal))
                found.Insert(0, line[FromPrefix.Length..].Trim());
        }
        return found.Count == 0 ? null : string.Join(", ", found);
    }
}
