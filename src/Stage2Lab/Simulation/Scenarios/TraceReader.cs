using System.Globalization;
using Stage2Lab.Arch;
using Stage2Lab.Simulation.Scripts;
using YamlDotNet.RepresentationModel;

namespace Stage2Lab.Simulation.Scenarios;

/// <summary>
/// A trace of guest accesses: CSV lines <c>ipa,kind[,vcpu]</c> where kind is r, w or x (or read, write, exec);
/// blank lines, '#' comments and a header line starting with "ipa" are ignored. Read with bounds
/// (<see cref="ScenarioLimits.MaxTraceLineBytes"/> per line, <see cref="ScenarioLimits.MaxTraceLines"/> lines),
/// so /dev/zero, a pipe or a binary file ends in an error instead of unbounded memory.
/// </summary>
internal static class TraceReader
{
    /// <summary>Errors reported per trace before the rest are only counted.</summary>
    private const int MaxErrors = 20;

    public static List<(ulong Ipa, AccessKind Kind)>? Load(string path, YamlNodeReader r, YamlNode node, string keyPath)
    {
        var trace = new List<(ulong, AccessKind)>();
        int errors = 0;
        void Error(int lineNumber, string message)
        {
            if (++errors <= MaxErrors)
                r.Error(node, keyPath, $"{path}:{lineNumber}: {message}");
        }

        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
            var reader = new LineReader(stream);
            while (reader.Next(out string? line, out string? problem))
            {
                if (problem is not null)
                {
                    Error(reader.LineNumber, problem);
                    return null;
                }
                if (ParseLine(line!, out ulong ipa, out AccessKind kind, out string? bad))
                    trace.Add((ipa, kind));
                else if (bad is not null)
                    Error(reader.LineNumber, bad);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            r.Error(node, keyPath, $"cannot read trace '{path}': {ex.Message}");
            return null;
        }
        if (errors > MaxErrors)
            r.Error(node, keyPath, $"{path}: {errors - MaxErrors} more bad lines");
        return trace;
    }

    /// <summary>One line: an access, nothing (blank, comment, header: <paramref name="bad"/> null), or what is wrong.</summary>
    private static bool ParseLine(string text, out ulong ipa, out AccessKind kind, out string? bad)
    {
        ipa = 0;
        kind = AccessKind.Read;
        bad = null;
        string line = text;
        int hash = line.IndexOf('#');
        if (hash >= 0)
            line = line[..hash];
        line = line.Trim();
        if (line.Length == 0 || line.StartsWith("ipa", StringComparison.OrdinalIgnoreCase))
            return false;
        string[] cells = line.Split(',');
        if (cells.Length < 2 || cells.Length > 3 || !NumberText.TryParse(cells[0].Trim(), out ipa))
        {
            bad = $"expected 'ipa,kind[,vcpu]' with a hex or decimal IPA, got '{Shorten(text)}'";
            return false;
        }
        AccessKind? parsed = cells[1].Trim().ToLowerInvariant() switch
        {
            "r" or "read" => AccessKind.Read,
            "w" or "write" => AccessKind.Write,
            "x" or "exec" => AccessKind.Exec,
            _ => null,
        };
        if (parsed is null)
        {
            bad = $"access kind '{Shorten(cells[1].Trim())}' is not r, w or x";
            return false;
        }
        if (cells.Length == 3 && !int.TryParse(cells[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out _))
        {
            bad = $"vCPU '{Shorten(cells[2].Trim())}' is not a number";
            return false;
        }
        kind = parsed.Value;
        return true;
    }

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..57] + "...";

    /// <summary>Lines of a byte stream, each at most <see cref="ScenarioLimits.MaxTraceLineBytes"/>.</summary>
    private sealed class LineReader
    {
        private readonly Stream _stream;
        private readonly byte[] _chunk = new byte[1 << 16];
        private readonly byte[] _line = new byte[ScenarioLimits.MaxTraceLineBytes];
        private int _pos;
        private int _end;

        public LineReader(Stream stream) => _stream = stream;

        /// <summary>1-based number of the line last returned.</summary>
        public int LineNumber { get; private set; }

        /// <summary>The next line (UTF-8, without CR/LF), or a problem that ends the read; false at the end.</summary>
        public bool Next(out string? line, out string? problem)
        {
            line = null;
            problem = null;
            int length = 0;
            bool any = false;
            while (true)
            {
                if (_pos == _end)
                {
                    _end = _stream.Read(_chunk, 0, _chunk.Length);
                    _pos = 0;
                    if (_end == 0)
                    {
                        if (!any)
                            return false;
                        break;
                    }
                }
                byte b = _chunk[_pos++];
                any = true;
                if (b == (byte)'\n')
                    break;
                if (b == 0)
                {
                    LineNumber++;
                    problem = "not a text file (a NUL byte); expected CSV lines ipa,kind[,vcpu]";
                    return true;
                }
                if (length == _line.Length)
                {
                    LineNumber++;
                    problem = $"line longer than {ScenarioLimits.MaxTraceLineBytes} bytes; expected CSV lines ipa,kind[,vcpu]";
                    return true;
                }
                _line[length++] = b;
            }
            LineNumber++;
            if (LineNumber > ScenarioLimits.MaxTraceLines)
            {
                problem = $"more than {ScenarioLimits.MaxTraceLines:N0} lines, the limit of a trace; split it into several workloads";
                return true;
            }
            line = System.Text.Encoding.UTF8.GetString(_line, 0, length).TrimEnd('\r').TrimStart('\uFEFF');
            return true;
        }
    }
}
