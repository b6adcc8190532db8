using System.Globalization;
using System.Text;
using Stage2Lab.Simulation.Tlb;

namespace Stage2Lab.Simulation.Scenarios;

/// <summary>Writes a <see cref="GuestSpec"/> back as the <c>guest:</c> section <see cref="GuestSectionReader"/> reads.</summary>
internal static class GuestSectionWriter
{
    public static void Write(StringBuilder y, GuestSpec g)
    {
        y.Append("guest:\n");
        y.Append("  granule: ").Append(g.Granule.Name).Append('\n');
        y.Append("  va-bits: ").Append(g.VaBits.ToString(CultureInfo.InvariantCulture)).Append('\n');
        y.Append("  mapping: ").Append(g.Mapping.Name()).Append('\n');
        if (g.TablesIpa is { } tables)
            y.Append("  tables-ipa: ").Append(Hex(tables)).Append('\n');
        if (g.Regions.Count == 0)
            return;
        y.Append("  regions:\n");
        foreach (GuestRegion r in g.Regions)
        {
            y.Append("    - { name: \"").Append(r.Name.Replace("\\", "\\\\").Replace("\"", "\\\"")).Append("\", va: ").Append(Hex(r.Va))
                .Append(", ipa: ").Append(Hex(r.Ipa)).Append(", size: ").Append(Hex(r.SizeBytes))
                .Append(", mapping: ").Append(r.Mapping.Name()).Append(" }\n");
        }
    }

    private static string Hex(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);
}
