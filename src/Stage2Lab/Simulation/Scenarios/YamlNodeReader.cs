using System.Globalization;
using Stage2Lab.Arch;
using Stage2Lab.Simulation.Scripts;
using YamlDotNet.RepresentationModel;

namespace Stage2Lab.Simulation.Scenarios;

/// <summary>
/// Reads typed values out of a YAML (or JSON) node tree, collecting every error with its line, column and key
/// path instead of stopping at the first, and refusing keys it does not know.
/// </summary>
internal sealed class YamlNodeReader
{
    private readonly string _file;

    public YamlNodeReader(string file) => _file = file;

    public List<ScenarioError> Errors { get; } = new();

    public void Error(YamlNode node, string path, string message) =>
        Errors.Add(new ScenarioError(_file, (int)node.Start.Line, (int)node.Start.Column, path, message));

    public SourceSpan Span(YamlNode node, string path) => new((int)node.Start.Line, (int)node.Start.Column, path);

    /// <summary>A mapping's entries by key, reporting keys outside <paramref name="allowed"/>.</summary>
    public Fields? Mapping(YamlNode node, string path, params string[] allowed)
    {
        if (node is not YamlMappingNode map)
        {
            Error(node, path, $"expected a mapping with keys {string.Join(", ", allowed)}");
            return null;
        }
        var fields = new Fields(this, map, path);
        foreach (var (keyNode, valueNode) in map.Children)
        {
            string key = (keyNode as YamlScalarNode)?.Value ?? "";
            if (Array.IndexOf(allowed, key) < 0)
            {
                string hint = Suggest(key, allowed);
                Error(keyNode, Join(path, key), $"unknown key '{key}'{hint}; valid keys here: {string.Join(", ", allowed)}");
                continue;
            }
            fields.Values[key] = valueNode;
        }
        return fields;
    }

    public YamlSequenceNode? Sequence(YamlNode node, string path)
    {
        if (node is YamlSequenceNode seq)
            return seq;
        Error(node, path, "expected a list");
        return null;
    }

    public string? String(YamlNode node, string path)
    {
        if (node is YamlScalarNode scalar && scalar.Value is not null)
            return scalar.Value;
        Error(node, path, "expected a text value");
        return null;
    }

    /// <summary>An address or size: hex (0x...) or decimal, underscores allowed, optional K/M/G/T suffix.</summary>
    public ulong? Size(YamlNode node, string path)
    {
        string? text = String(node, path);
        if (text is null)
            return null;
        if (NumberText.TryParse(text.Replace("_", "", StringComparison.Ordinal), out ulong value))
            return value;
        Error(node, path, $"'{text}' is not a number; expected hex (0x8000_0000), decimal, or a size like 4K, 2M, 1G, 32G");
        return null;
    }

    public int? Int(YamlNode node, string path, int min, int max)
    {
        string? text = String(node, path);
        if (text is null)
            return null;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value))
        {
            Error(node, path, $"'{text}' is not an integer; expected {min}..{max}");
            return null;
        }
        if (value < min || value > max)
        {
            Error(node, path, $"{value} is out of range; expected {min}..{max}");
            return null;
        }
        return value;
    }

    public double? Double(YamlNode node, string path, double min, double max)
    {
        string? text = String(node, path);
        if (text is null)
            return null;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value) || value < min || value > max)
        {
            Error(node, path, $"'{text}' is not a number in {min}..{max}");
            return null;
        }
        return value;
    }

    public bool? Bool(YamlNode node, string path)
    {
        string? text = String(node, path);
        switch (text?.ToLowerInvariant())
        {
            case "true": case "yes": case "on": return true;
            case "false": case "no": case "off": return false;
            case null: return null;
            default:
                Error(node, path, $"'{text}' is not a boolean; expected true or false");
                return null;
        }
    }

    /// <summary>One of a fixed set of words.</summary>
    public string? Choice(YamlNode node, string path, params string[] choices)
    {
        string? text = String(node, path);
        if (text is null)
            return null;
        if (Array.IndexOf(choices, text) >= 0)
            return text;
        Error(node, path, $"'{text}' is not valid{Suggest(text, choices)}; expected one of {string.Join(", ", choices)}");
        return null;
    }

    public static string Join(string path, string key) => path.Length == 0 ? key : path + "." + key;

    public static string Index(string path, int i) => $"{path}[{i}]";

    private static string Suggest(string key, string[] allowed)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string candidate in allowed)
        {
            int d = Distance(key, candidate);
            if (d < bestDistance)
            {
                bestDistance = d;
                best = candidate;
            }
        }
        return best is not null && bestDistance <= Math.Max(2, key.Length / 3) ? $" (did you mean '{best}'?)" : "";
    }

    internal static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        }
        return d[a.Length, b.Length];
    }

    /// <summary>The entries of one mapping, looked up by key.</summary>
    internal sealed class Fields
    {
        private readonly YamlNodeReader _reader;

        public Fields(YamlNodeReader reader, YamlMappingNode node, string path)
        {
            _reader = reader;
            Node = node;
            Path = path;
        }

        public YamlMappingNode Node { get; }

        public string Path { get; }

        public Dictionary<string, YamlNode> Values { get; } = new();

        public bool Has(string key) => Values.ContainsKey(key);

        public YamlNode? this[string key] => Values.GetValueOrDefault(key);

        public string PathOf(string key) => Join(Path, key);

        /// <summary>Reports a missing required key at the mapping's position.</summary>
        public bool Require(string key, string what)
        {
            if (Values.ContainsKey(key))
                return true;
            _reader.Error(Node, Path, $"missing '{key}' ({what})");
            return false;
        }

        public ulong? Size(string key) => Values.TryGetValue(key, out YamlNode? n) ? _reader.Size(n, PathOf(key)) : null;

        public string? String(string key) => Values.TryGetValue(key, out YamlNode? n) ? _reader.String(n, PathOf(key)) : null;

        public bool? Bool(string key) => Values.TryGetValue(key, out YamlNode? n) ? _reader.Bool(n, PathOf(key)) : null;

        public int? Int(string key, int min, int max) => Values.TryGetValue(key, out YamlNode? n) ? _reader.Int(n, PathOf(key), min, max) : null;

        public double? Double(string key, double min, double max) => Values.TryGetValue(key, out YamlNode? n) ? _reader.Double(n, PathOf(key), min, max) : null;

        public string? Choice(string key, params string[] choices) => Values.TryGetValue(key, out YamlNode? n) ? _reader.Choice(n, PathOf(key), choices) : null;
    }
}
