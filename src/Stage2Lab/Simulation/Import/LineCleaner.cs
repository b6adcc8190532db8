using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Stage2Lab.Simulation.Import;

/// <summary>
/// Turns pasted record text back into record lines: mail quoting (`> `, `>>`), quoted-printable soft breaks and
/// `=3D` escapes, HTML entities from blog copies, markdown fences, shell prompts, `...` elisions and trailing
/// annotations (`&lt;-- the BAR`, `  # note`). Blank lines are dropped silently (they carry no record); prompts,
/// fences and elisions are reported as skipped lines. What is left goes to the format's parser.
/// </summary>
public static partial class LineCleaner
{
    public static List<CleanLine> Clean(string text, string file, List<SkippedLine> skipped)
    {
        List<(int Number, string Text)> logical = SplitLines(text);
        if (LooksQuotedPrintable(logical))
            logical = DecodeQuotedPrintable(logical);
        var lines = new List<CleanLine>(logical.Count);
        foreach ((int number, string raw) in logical)
        {
            // Cheap tests first: most lines of a record file carry none of the debris (smaps: 25 lines per VMA).
            string line = raw.TrimStart().StartsWith('>') ? QuoteMarks().Replace(raw, "", 1) : raw;
            line = DecodeEntities(line);
            line = line.TrimEnd();
            string trimmed = line.TrimStart();
            if (trimmed.Length == 0)
                continue;
            if (trimmed.StartsWith("```", StringComparison.Ordinal) || trimmed.StartsWith("~~~", StringComparison.Ordinal))
            {
                skipped.Add(new(new(file, number), "a markdown code fence, not a record"));
                continue;
            }
            if (trimmed[0] is '.' or '[' or '…' or '(' or '<' or '-' or '~' && Elision().IsMatch(trimmed))
            {
                skipped.Add(new(new(file, number), "an elision ('...'): lines were left out of the paste here"));
                continue;
            }
            if ((trimmed[0] is '$' or '#' or '%' or '(' or 'P' || trimmed.Contains('@')) && ShellPrompt().IsMatch(trimmed))
            {
                skipped.Add(new(new(file, number), "a shell prompt or monitor command, not a record"));
                continue;
            }
            if (MayBeAnnotated(trimmed))
                trimmed = Annotation().Replace(trimmed, "").TrimEnd();
            if (trimmed.Length == 0)
                continue;
            int indent = line.Length - line.TrimStart().Length;
            lines.Add(new CleanLine(number, trimmed, indent));
        }
        return lines;
    }

    private static bool MayBeAnnotated(string line) =>
        line.Contains("<-", StringComparison.Ordinal) || line.Contains("<=", StringComparison.Ordinal) || line.Contains('←') ||
        line.Contains("  #", StringComparison.Ordinal) || line.Contains(" //", StringComparison.Ordinal);

    private static List<(int, string)> SplitLines(string text)
    {
        var lines = new List<(int, string)>();
        int number = 1, start = 0;
        for (int i = 0; i <= text.Length; i++)
        {
            if (i == text.Length || text[i] == '\n')
            {
                int end = i > start && text[i - 1] == '\r' ? i - 1 : i;
                if (i < text.Length || end > start)
                    lines.Add((number, text[start..end]));
                number++;
                start = i + 1;
            }
        }
        return lines;
    }

    /// <summary>A mail body in quoted-printable: soft line breaks (a trailing '=') and '=3D' escapes.</summary>
    private static bool LooksQuotedPrintable(List<(int Number, string Text)> lines)
    {
        bool softBreak = false, escape = false;
        foreach ((_, string line) in lines)
        {
            if (line.EndsWith('=') && !line.EndsWith("==", StringComparison.Ordinal))
                softBreak = true;
            if (line.Contains("=3D", StringComparison.Ordinal) || line.Contains("=20", StringComparison.Ordinal) || line.Contains("=09", StringComparison.Ordinal))
                escape = true;
            if (softBreak && escape)
                return true;
        }
        return false;
    }

    private static List<(int, string)> DecodeQuotedPrintable(List<(int Number, string Text)> lines)
    {
        var result = new List<(int, string)>(lines.Count);
        var joined = new StringBuilder();
        int first = 0;
        foreach ((int number, string line) in lines)
        {
            if (joined.Length == 0)
                first = number;
            bool soft = line.EndsWith('=');
            joined.Append(soft ? line.AsSpan(0, line.Length - 1) : line);
            if (soft)
                continue;
            result.Add((first, DecodeEscapes(joined.ToString())));
            joined.Clear();
        }
        if (joined.Length > 0)
            result.Add((first, DecodeEscapes(joined.ToString())));
        return result;
    }

    private static string DecodeEscapes(string line)
    {
        if (!line.Contains('='))
            return line;
        var text = new StringBuilder(line.Length);
        var pending = new List<byte>();
        for (int i = 0; i < line.Length; i++)
        {
            if (line[i] == '=' && TryHexByte(line, i + 1, out byte value))
            {
                pending.Add(value);
                i += 2;
                continue;
            }
            Flush(text, pending);
            text.Append(line[i]);
        }
        Flush(text, pending);
        return text.ToString();
    }

    /// <summary>Escaped bytes are decoded together: a UTF-8 character may span several escapes.</summary>
    private static void Flush(StringBuilder text, List<byte> pending)
    {
        if (pending.Count == 0)
            return;
        text.Append(Encoding.UTF8.GetString(pending.ToArray()));
        pending.Clear();
    }

    private static bool TryHexByte(string s, int at, out byte value)
    {
        value = 0;
        return at + 2 <= s.Length && byte.TryParse(s.AsSpan(at, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out value) && IsUpperHex(s[at]) && IsUpperHex(s[at + 1]);
    }

    /// <summary>Quoted-printable writes its escapes in upper case; '=0x' in a record is not an escape.</summary>
    private static bool IsUpperHex(char c) => c is (>= '0' and <= '9') or (>= 'A' and <= 'F');

    private static string DecodeEntities(string line)
    {
        if (line.IndexOf('&') < 0 && line.IndexOf('\u00a0') < 0)
            return line;
        return line.Replace("&nbsp;", " ").Replace("&#160;", " ").Replace('\u00a0', ' ')
            .Replace("&gt;", ">").Replace("&lt;", "<").Replace("&quot;", "\"").Replace("&#39;", "'").Replace("&amp;", "&");
    }

    /// <summary>Mail quote markers at the start: `> `, `>> `, `> > `.</summary>
    [GeneratedRegex(@"^(?:[ \t]*>)+[ \t]?")]
    private static partial Regex QuoteMarks();

    [GeneratedRegex(@"^(?:\.{3,}|…|\[\.\.\.\]|\[…\]|\(\.\.\.\)|\. \. \.|<snip>|\[snip\]|--snip--)$")]
    private static partial Regex Elision();

    /// <summary>`$ cmd`, `# cmd`, `user@host:~$ cmd`, `(qemu) info mtree -f`, `(gdb) ...`, markdown headings.</summary>
    [GeneratedRegex(@"^(?:[$#%]\s|[$#]$|#{1,6}\s|[\w.\-]+@[\w.\-]+(?::[^\s$#]*)?\s*[$#](?:\s|$)|\((?:qemu|gdb)\)(?:\s|$)|PS [A-Z]:\\)")]
    private static partial Regex ShellPrompt();

    /// <summary>Trailing notes a person added: `&lt;-- BAR 1`, `  # the GPU`, `  // note`, `←`.</summary>
    [GeneratedRegex(@"\s+(?:<-+|<=+|←)(?:\s.*)?$|\s{2,}#\s.*$|\s+//\s.*$")]
    private static partial Regex Annotation();
}
