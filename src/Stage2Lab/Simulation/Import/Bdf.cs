using System.Text.RegularExpressions;

namespace Stage2Lab.Simulation.Import;

/// <summary>PCI addresses as the records print them: `0000:01:00.0` (domain:bus:device.function), or without the domain.</summary>
public static partial class Bdf
{
    /// <summary>The full `dddd:bb:dd.f` in lower case; a missing domain is 0000 (lspci omits it when all devices are in domain 0).</summary>
    public static string Normalize(string text)
    {
        Match m = Pattern().Match(text);
        if (!m.Success)
            return text;
        string domain = m.Groups["dom"].Success ? m.Groups["dom"].Value.PadLeft(4, '0') : "0000";
        return $"{domain}:{m.Groups["bus"].Value}:{m.Groups["dev"].Value}.{m.Groups["fn"].Value}".ToLowerInvariant();
    }

    public static bool IsBdf(string text) => Pattern().IsMatch(text);

    [GeneratedRegex(@"^(?:(?<dom>[0-9a-fA-F]{4,8}):)?(?<bus>[0-9a-fA-F]{2}):(?<dev>[0-9a-fA-F]{2})\.(?<fn>[0-7])$")]
    private static partial Regex Pattern();
}
