using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Tlb;
using YamlDotNet.RepresentationModel;

namespace Stage2Lab.Simulation.Scenarios;

/// <summary>Reads the <c>guest:</c> section (the guest's stage 1) with the scenario reader's error style, once
/// the VM, memslots and timeline are known (their IPAs are what the default identity map covers).</summary>
internal static class GuestSectionReader
{
    private const string Section = "guest";

    public static GuestSpec? Read(YamlNodeReader r, YamlNode node, Scenario s)
    {
        var f = r.Mapping(node, Section, "granule", "va-bits", "mapping", "tables-ipa", "regions");
        if (f is null)
            return null;
        int errorsBefore = r.Errors.Count;
        var g = new GuestSpec { Where = r.Span(node, Section) };
        if (f.Choice("granule", "4K", "16K", "64K") is { } granuleText && Granule.TryParse(granuleText, out Granule granule))
            g.Granule = granule;
        g.VaBits = f.Int("va-bits", GuestStage1.MinVaBits, GuestStage1.MaxVaBits) ?? g.VaBits;
        if (f.Choice("mapping", GuestMappingExtensions.Names) is { } mappingText && GuestMappingExtensions.TryParse(mappingText, out GuestMapping mapping))
        {
            g.Mapping = mapping;
            if (!mapping.IsValidFor(g.Granule))
                r.Error(f["mapping"]!, f.PathOf("mapping"), $"'{mappingText}' needs a 4K granule (level-1 blocks with {g.Granule.Name} need FEAT_LPA2); use thp or contiguous-thp");
        }
        g.TablesIpa = f.Size("tables-ipa");

        var regionNodes = new List<(YamlNode Node, YamlNodeReader.Fields Fields)>();
        if (f["regions"] is { } regions && r.Sequence(regions, f.PathOf("regions")) is { } seq)
        {
            for (int i = 0; i < seq.Children.Count; i++)
            {
                string p = YamlNodeReader.Index(f.PathOf("regions"), i);
                var rf = r.Mapping(seq.Children[i], p, "name", "va", "ipa", "size", "mapping");
                if (rf is null)
                    continue;
                if (!(rf.Require("ipa", "the first IPA the region maps") & rf.Require("size", "bytes, e.g. 16G")))
                    continue;
                ulong? ipa = rf.Size("ipa"), size = rf.Size("size");
                ulong? va = rf.Has("va") ? rf.Size("va") : ipa;
                GuestMapping regionMapping = g.Mapping;
                if (rf.Choice("mapping", GuestMappingExtensions.Names) is { } m)
                    GuestMappingExtensions.TryParse(m, out regionMapping);
                if (ipa is null || size is null || va is null)
                    continue;
                g.Regions.Add(new GuestRegion(rf.String("name") ?? $"region{i}", va.Value, ipa.Value, size.Value, regionMapping));
                regionNodes.Add((seq.Children[i], rf));
            }
        }
        if (r.Errors.Count > errorsBefore)
            return null;

        if (g.Regions.Count > 0)
        {
            foreach (GuestProblem p in GuestStage1.Check(g.Granule, g.VaBits, g.Regions, g.TablesIpa ?? g.Regions[0].Ipa, s.Vm.IpaBits))
            {
                if (p.RegionIndex >= 0)
                {
                    var (regionNode, rf) = regionNodes[p.RegionIndex];
                    YamlNode at = rf[p.Field] ?? (p.Field == "mapping" ? f["mapping"] : null) ?? regionNode;
                    r.Error(at, rf.PathOf(p.Field), p.Message);
                }
                else
                {
                    r.Error(f[p.Field] ?? node, f.PathOf(p.Field), p.Message);
                }
            }
        }
        else
        {
            try
            {
                g.Build(s.Vm.IpaBits, GuestSpec.MemslotRanges(s));
            }
            catch (ArgumentException ex)
            {
                r.Error(node, Section, $"the default guest map (every memslot at VA = IPA, '{g.Mapping.Name()}' leaves) is not valid: {ex.Message}; give 'regions' or more 'va-bits'");
            }
        }
        return r.Errors.Count > errorsBefore ? null : g;
    }
}
