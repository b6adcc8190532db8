using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Stage2Lab.Simulation.Scenarios;

/// <summary>
/// Sets values in a scenario's YAML tree by key path before the tree is read, so that an overridden value goes
/// through exactly the validation a value in the file gets, and its errors name the key. A path that leads
/// nowhere is an error naming the path, with the nearest existing paths.
/// </summary>
internal static class ScenarioKeyPaths
{
    /// <summary>Key lookups in a list: a mapping names its entry by `name`, a memslot by `id`.</summary>
    private static readonly string[] ElementNameKeys = ["name", "id"];

    /// <summary>
    /// Applies every override to <paramref name="root"/> and returns each one's path as errors print it (list
    /// indices, not names), in order. Throws <see cref="ScenarioException"/> for a path that leads nowhere or to a
    /// list or mapping rather than a single value.
    /// </summary>
    public static string[] Apply(YamlNode root, IReadOnlyList<ScenarioOverride> overrides, string file)
    {
        var canonical = new string[overrides.Count];
        var errors = new List<ScenarioError>();
        for (int i = 0; i < overrides.Count; i++)
        {
            ScenarioOverride o = overrides[i];
            if (Resolve(root, o.Key, file, out YamlNode? target, out string path, out ScenarioError? error) is { } parent)
            {
                // A key the mapping does not hold yet: added, and the reader says whether it is valid there.
                var scalar = new YamlScalarNode(o.Value) { Style = ScalarStyle.Plain };
                parent.Children[new YamlScalarNode(path[(path.LastIndexOf('.') + 1)..])] = scalar;
            }
            else if (error is not null)
            {
                errors.Add(error);
            }
            else if (target is YamlScalarNode scalar)
            {
                scalar.Value = o.Value;
                scalar.Style = ScalarStyle.Plain;
            }
            else
            {
                string what = target is YamlSequenceNode ? "a list" : "a mapping";
                errors.Add(new ScenarioError(file, (int)target!.Start.Line, (int)target.Start.Column, o.Key,
                    $"is {what}, not a single value; --vary sets one value (try a key inside it: {string.Join(", ", Nearest(root, o.Key + ".", 4))})"));
            }
            canonical[i] = path;
        }
        if (errors.Count > 0)
            throw new ScenarioException(errors);
        return canonical;
    }

    /// <summary>
    /// Walks <paramref name="key"/> down from the root. Returns the mapping to add the last key to when only that
    /// key is missing (a key the file leaves at its default); else null, with the node found or an error.
    /// </summary>
    private static YamlMappingNode? Resolve(YamlNode root, string key, string file, out YamlNode? target, out string canonical, out ScenarioError? error)
    {
        target = null;
        error = null;
        canonical = "";
        List<string>? tokens = Tokens(key);
        if (tokens is null || tokens.Count == 0)
        {
            error = new ScenarioError(file, 0, 0, key, "is not a key path; expected keys separated by dots, with [N] for a list element, e.g. host.page-size or mappings[1].start");
            return null;
        }
        YamlNode node = root;
        for (int t = 0; t < tokens.Count; t++)
        {
            string token = tokens[t];
            bool last = t == tokens.Count - 1;
            if (token.StartsWith('['))
            {
                int index = int.TryParse(token[1..^1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) ? n : -1;
                if (node is not YamlSequenceNode seq || index < 0 || index >= seq.Children.Count)
                {
                    error = Unknown(root, node, key, file, canonical + token, node is YamlSequenceNode s ? $"the list has {s.Children.Count} entries" : "not a list");
                    return null;
                }
                canonical += token;
                node = seq.Children[index];
                continue;
            }
            switch (node)
            {
                case YamlMappingNode map:
                    if (map.Children.TryGetValue(new YamlScalarNode(token), out YamlNode? child))
                    {
                        canonical = YamlNodeReader.Join(canonical, token);
                        node = child;
                        continue;
                    }
                    canonical = YamlNodeReader.Join(canonical, token);
                    if (last)
                        return map;
                    error = Unknown(root, node, key, file, canonical, "no such key");
                    return null;
                case YamlSequenceNode list:
                    int found = list.Children.ToList().FindIndex(e => e is YamlMappingNode m && ElementNameKeys.Any(k =>
                        m.Children.TryGetValue(new YamlScalarNode(k), out YamlNode? v) && v is YamlScalarNode sv && sv.Value == token));
                    if (found < 0)
                    {
                        error = Unknown(root, node, key, file, canonical + "." + token, "no list entry has this name (or id)");
                        return null;
                    }
                    canonical = YamlNodeReader.Index(canonical, found);
                    node = list.Children[found];
                    continue;
                default:
                    error = Unknown(root, node, key, file, canonical + "." + token, "a single value has no keys inside");
                    return null;
            }
        }
        target = node;
        return null;
    }

    private static ScenarioError Unknown(YamlNode root, YamlNode at, string key, string file, string where, string why) =>
        new(file, (int)at.Start.Line, (int)at.Start.Column, key,
            $"unknown key path ({why} at {where}); nearest keys in this scenario: {string.Join(", ", Nearest(root, key, 5))}");

    /// <summary>The key path's tokens: keys, and [N] for list indices; null when malformed.</summary>
    private static List<string>? Tokens(string key)
    {
        var tokens = new List<string>();
        foreach (string part in key.Split('.'))
        {
            int bracket = part.IndexOf('[', StringComparison.Ordinal);
            string name = bracket < 0 ? part : part[..bracket];
            if (name.Length > 0)
                tokens.Add(name);
            else if (bracket != 0)
                return null;
            string rest = bracket < 0 ? "" : part[bracket..];
            while (rest.Length > 0)
            {
                int close = rest.IndexOf(']', StringComparison.Ordinal);
                if (!rest.StartsWith('[') || close < 2)
                    return null;
                tokens.Add(rest[..(close + 1)]);
                rest = rest[(close + 1)..];
            }
        }
        return tokens;
    }

    /// <summary>Every single-value key path of the tree (list entries by index and by name), nearest to <paramref name="key"/> first.</summary>
    internal static IEnumerable<string> Nearest(YamlNode root, string key, int count)
    {
        var paths = new List<string>();
        Collect(root, "", paths);
        return paths.Distinct(StringComparer.Ordinal)
            .OrderBy(p => p.StartsWith(key, StringComparison.Ordinal) ? 0 : YamlNodeReader.Distance(key, p))
            .ThenBy(p => p, StringComparer.Ordinal)
            .Take(count);
    }

    private static void Collect(YamlNode node, string path, List<string> into)
    {
        if (into.Count > 10_000)
            return;
        switch (node)
        {
            case YamlScalarNode:
                if (path.Length > 0)
                    into.Add(path);
                break;
            case YamlMappingNode map:
                foreach (var (k, v) in map.Children)
                {
                    if (k is YamlScalarNode { Value: { } name })
                        Collect(v, YamlNodeReader.Join(path, name), into);
                }
                break;
            case YamlSequenceNode seq:
                for (int i = 0; i < seq.Children.Count; i++)
                {
                    Collect(seq.Children[i], YamlNodeReader.Index(path, i), into);
                    if (seq.Children[i] is YamlMappingNode m && m.Children.TryGetValue(new YamlScalarNode("name"), out YamlNode? n) && n is YamlScalarNode { Value: { } elementName })
                        Collect(m, YamlNodeReader.Join(path, elementName), into);
                }
                break;
        }
    }
}
