using System.Globalization;
using Stage2Lab.Arch;
using Stage2Lab.Simulation.Scripts;
using YamlDotNet.RepresentationModel;

namespace Stage2Lab.Simulation.Scenarios;

/// <summary>
/// A trace of guest accesses: CSV lines <c>ipa,kind[,vcpu]</c> where kind is r, w or x (or read, write, exec);
/// blank lines, '#' comments and a header line starting with "ipa" are ignored.
/// </summary>
internal static class TraceReader
{
    public static List<(ulong Ipa, AccessKind Kind)>? Load(string path, YamlNodeReader r, YamlNode node, string keyPath)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            r.Error(node, keyPath, $"cannot read trace '{path}': {ex.Message}");
            return null;
        }
        var trace = new List<(ulong, AccessKind)>(lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            int hash = line.IndexOf('#');
            if (hash >= 0)
                line = line[..hash];
            line = line.Trim();
            if (line.Length == 0 || line.StartsWith("ipa", StringComparison.OrdinalIgnoreCase))
                continue;
            string[] cells = line.Split(',');
            if (cells.Length < 2 || cells.Length > 3 || !NumberText.TryParse(cells[0].Trim(), out ulong ipa))
            {
                r.Error(node, keyPath, $"{path}:{i + 1}: expected 'ipa,kind[,vcpu]' with a hex or decimal IPA, got '{lines[i]}'");
                continue;
            }
            AccessKind? kind = cells[1].Trim().ToLowerInvariant() switch
            {
                "r" or "read" => AccessKind.Read,
                "w" or "write" => AccessKind.Write,
                "x" or "exec" => AccessKind.Exec,
                _ => null,
            };
            if (kind is null)
            {
                r.Error(node, keyPath, $"{path}:{i + 1}: access kind '{cells[1].Trim()}' is not r, w or x");
                continue;
            }
            if (cells.Length == 3 && !int.TryParse(cells[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out _))
            {
                r.Error(node, keyPath, $"{path}:{i + 1}: vCPU '{cells[2].Trim()}' is not a number");
                continue;
            }
            trace.Add((ipa, kind.Value));
        }
        return trace;
    }
}
