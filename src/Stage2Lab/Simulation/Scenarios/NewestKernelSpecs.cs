using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.Kvm.Policies;
using YamlDotNet.RepresentationModel;

namespace Stage2Lab.Simulation.Scenarios;

/// <summary>
/// The scenario parts only the newest kernels model — `vm.pkvm`, `guest-memfd` slots, the `nested:` section and
/// `guest: l2` accesses — read and cross-checked here so that ScenarioReader only calls in.
/// </summary>
internal static class NewestKernelSpecs
{
    public const string PkvmKey = "pkvm";
    public const string GuestMemfdKey = "guest-memfd";
    public const string NestedKey = "nested";
    public const string GuestKey = "guest";

    /// <summary>`pkvm: false | true | protected` under `vm:`.</summary>
    public static void Pkvm(YamlNodeReader r, YamlNodeReader.Fields vm, VmSpec into)
    {
        if (vm[PkvmKey] is not { } node)
            return;
        string? value = r.Choice(node, vm.PathOf(PkvmKey), "false", "true", "protected");
        into.Pkvm = value switch { "true" => VmFlavor.Pkvm, "protected" => VmFlavor.ProtectedPkvm, _ => VmFlavor.Kvm };
        into.PkvmWhere = r.Span(node, vm.PathOf(PkvmKey));
    }

    /// <summary>`guest-memfd: true` on a memslot: KVM_SET_USER_MEMORY_REGION2 with KVM_MEM_GUEST_MEMFD.</summary>
    public static MemslotFlags GuestMemfd(YamlNodeReader.Fields slot) =>
        slot.Bool(GuestMemfdKey) == true ? MemslotFlags.GuestMemfd : MemslotFlags.None;

    /// <summary>`guest: l1 | l2` on an access or workload: which guest makes the accesses (default l1).</summary>
    public static bool L2Guest(YamlNodeReader.Fields ev) => ev.Choice(GuestKey, "l1", "l2") == "l2";

    /// <summary>
    /// The `nested:` section: `l1-stage2`, the L1 hypervisor's own stage-2 leaves for its L2 guest, each
    /// { l2-ipa, l1-ipa, size, perms } with size a stage-2 leaf size and both addresses aligned to it.
    /// </summary>
    public static void Nested(YamlNodeReader r, YamlNode node, Scenario s)
    {
        var f = r.Mapping(node, NestedKey, "l1-stage2");
        if (f is null)
            return;
        var spec = new NestedSpec { Where = r.Span(node, NestedKey) };
        s.Nested = spec;
        if (!f.Require("l1-stage2", "the L1 hypervisor's stage-2 leaves: a list of { l2-ipa, l1-ipa, size, perms }"))
            return;
        if (r.Sequence(f["l1-stage2"]!, f.PathOf("l1-stage2")) is not { } seq)
            return;
        ulong pageSize = s.Host.PageSize.PageSize;
        for (int i = 0; i < seq.Children.Count; i++)
        {
            string p = YamlNodeReader.Index(f.PathOf("l1-stage2"), i);
            YamlNode entry = seq.Children[i];
            var lf = r.Mapping(entry, p, "l2-ipa", "l1-ipa", "size", "perms");
            if (lf is null)
                continue;
            bool ok = lf.Require("l2-ipa", "the L2 guest's IPA the leaf starts at") & lf.Require("l1-ipa", "the L1 IPA it maps to")
                & lf.Require("size", "the leaf size: 4K, 16K, 64K, 2M, 32M, 512M, 1G, 64G or 4T");
            Prot perms = Prot.RWX;
            if (lf.String("perms") is { } letters && !TryPerms(letters, out perms))
            {
                r.Error(lf["perms"]!, lf.PathOf("perms"), $"perms '{letters}' must be letters from r, w, x (e.g. rwx, rw, r)");
                ok = false;
            }
            if (!ok || lf.Size("l2-ipa") is not { } l2 || lf.Size("l1-ipa") is not { } l1 || lf.Size("size") is not { } size)
                continue;
            var leaf = new L1Stage2Mapping(l2, size, l1, perms);
            if (GuestStage2.Check(leaf, pageSize) is { } problem)
            {
                r.Error(entry, p, $"{problem}; fix the leaf");
                continue;
            }
            int clash = spec.L1Stage2.FindIndex(o => o.L2Ipa < leaf.L2End && leaf.L2Ipa < o.L2End);
            if (clash >= 0)
            {
                L1Stage2Mapping o = spec.L1Stage2[clash];
                r.Error(entry, p, $"L2 IPA range [0x{leaf.L2Ipa:x}, 0x{leaf.L2End:x}) overlaps the leaf at L2 IPA 0x{o.L2Ipa:x}; the L1 stage-2 leaves must not overlap");
                continue;
            }
            spec.L1Stage2.Add(leaf);
        }
    }

    private static bool TryPerms(string letters, out Prot perms)
    {
        perms = Prot.None;
        foreach (char c in letters)
        {
            Prot bit = c switch { 'r' => Prot.R, 'w' => Prot.W, 'x' => Prot.X, _ => Prot.None };
            if (bit == Prot.None || (perms & bit) != 0)
                return false;
            perms |= bit;
        }
        return letters.Length > 0;
    }

    /// <summary>
    /// Once the file parsed: the default policy list keeps only the kernels that model the VM (pKVM: v6.18 and
    /// v7.4; protected or nested guests: v7.4); a listed policy that does not model it is an error at its entry.
    /// `guest: l2` events need a `nested:` section.
    /// </summary>
    public static void Validate(Scenario s, Dictionary<string, YamlNode> policyNodes, List<ScenarioError> errors)
    {
        VmSpec vm = s.Vm;
        bool nested = s.Nested is not null;
        if (vm.Pkvm != VmFlavor.Kvm || nested)
        {
            bool Models(string name) => PolicyRegistry.FindTarget(name) is { } t && t.Policy.Create() is { } p
                && p.Supports(t.Flavor ?? vm.Pkvm) && (!nested || p.SupportsNested);
            string[] able = [.. PolicyRegistry.ComparedNames.Where(Models)];
            string need = (vm.Pkvm switch { VmFlavor.Pkvm => "pkvm: true", VmFlavor.ProtectedPkvm => "pkvm: protected", _ => "" }
                + (nested ? (vm.Pkvm != VmFlavor.Kvm ? " with " : "") + "a nested: section" : "")).Trim();
            if (vm.Policies.Count == 0)
            {
                vm.Policies.AddRange(able);
            }
            else
            {
                foreach (string name in vm.Policies.Where(n => !Models(n)))
                {
                    SourceSpan at = policyNodes.TryGetValue(name, out YamlNode? n) ? new SourceSpan((int)n.Start.Line, (int)n.Start.Column, "vm.policies")
                        : vm.PkvmWhere ?? s.Nested!.Where;
                    errors.Add(new ScenarioError(s.SourceFile, at.Line, at.Column, at.Path,
                        $"policy {name} does not model {need}; the kernels that do: {string.Join(", ", able)}; remove {name} or the setting"));
                }
            }
        }
        if (!nested)
        {
            foreach (TimelineEvent ev in s.Timeline)
            {
                if (ev is AccessEvent { L2Guest: true } or WorkloadEvent { L2Guest: true })
                    errors.Add(new ScenarioError(s.SourceFile, ev.Where.Line, ev.Where.Column, ev.Where.Path + "." + GuestKey,
                        "guest: l2 needs a nested: section describing the L1 hypervisor's stage 2 (l1-stage2)"));
            }
        }
    }
}
