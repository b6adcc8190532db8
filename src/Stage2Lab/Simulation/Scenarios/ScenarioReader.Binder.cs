using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.Kvm.Policies;
using Stage2Lab.Simulation.Metrics;
using YamlDotNet.RepresentationModel;

namespace Stage2Lab.Simulation.Scenarios;

public static partial class ScenarioReader
{
    /// <summary>
    /// Binds a parsed scenario document to the model: the host, mappings, VM and memslots here; the timeline's
    /// events in ScenarioReader.Timeline.cs. Errors are collected, not thrown, so that a file gets them all.
    /// </summary>
    private sealed partial class Binder
    {
        private readonly YamlNodeReader _r;
        private readonly Scenario _s;
        private readonly string _baseDirectory;
        private readonly Dictionary<string, YamlNode> _policyNodes = new();

        // By name (the first of a name; a second is an error), so that thousands of slots and events that name
        // a mapping cost O(1) each rather than a walk of every mapping.
        private readonly Dictionary<string, VmaSpec> _mappingsByName = new();
        private readonly Dictionary<int, MemslotSpec> _slotsById = new();
        private readonly Dictionary<string, List<(ulong Ipa, Arch.AccessKind Kind)>?> _traces = new();

        public Binder(YamlNodeReader r, Scenario s, string baseDirectory)
        {
            _r = r;
            _s = s;
            _baseDirectory = baseDirectory;
        }

        public void Root(YamlNode root)
        {
            var f = _r.Mapping(root, "", "name", "description", "host", "mappings", "vm", "memslots", "timeline", "guest", NewestKernelSpecs.NestedKey);
            if (f is null)
                return;
            _s.Name = f.String("name") ?? Path.GetFileNameWithoutExtension(_s.SourceFile);
            _s.Description = f.String("description");
            if (f.Require("host", "page size, RAM ranges, device regions"))
                Host(f["host"]!);
            if (f["mappings"] is { } mappings)
                Mappings(mappings);
            if (f["vm"] is { } vm)
                Vm(vm);
            if (f[NewestKernelSpecs.NestedKey] is { } nested)
                NewestKernelSpecs.Nested(_r, nested, _s);
            if (f["memslots"] is { } slots && _r.Sequence(slots, "memslots") is { } seq)
            {
                for (int i = 0; i < seq.Children.Count; i++)
                {
                    if (Memslot(seq.Children[i], YamlNodeReader.Index("memslots", i)) is { } slot)
                    {
                        _s.Memslots.Add(slot);
                        _slotsById.TryAdd(slot.Id, slot);
                    }
                }
            }
            if (f["timeline"] is { } timeline)
                Timeline(timeline);
            if (f["guest"] is { } guest)
                _s.Guest = GuestSectionReader.Read(_r, guest, _s);
        }

        private void Host(YamlNode node)
        {
            var f = _r.Mapping(node, "host", "page-size", "va-bits", "thp", "ram", "devices");
            if (f is null)
                return;
            HostSpec host = _s.Host;
            if (f["page-size"] is { } ps && _r.Choice(ps, f.PathOf("page-size"), "4K", "16K", "64K") is { } g)
            {
                Granule.TryParse(g, out Granule granule);
                host.PageSize = granule;
            }
            host.VaBits = f.Int("va-bits", 36, 52) ?? 48;
            if (f.Choice("thp", "never", "madvise", "always") is { } thp)
                host.Thp = thp switch { "never" => ThpMode.Never, "madvise" => ThpMode.Madvise, _ => ThpMode.Always };
            if (f.Require("ram", "a list of RAM ranges with base and size"))
                Ranges(f["ram"]!, "host.ram", host.Ram, "ram");
            if (f["devices"] is { } devices)
                Ranges(devices, "host.devices", host.Devices, "device");
        }

        private void Ranges(YamlNode node, string path, List<RangeSpec> into, string defaultName)
        {
            if (_r.Sequence(node, path) is not { } seq)
                return;
            for (int i = 0; i < seq.Children.Count; i++)
            {
                string p = YamlNodeReader.Index(path, i);
                var f = _r.Mapping(seq.Children[i], p, "name", "base", "size");
                if (f is null)
                    continue;
                bool ok = f.Require("base", "the first physical address") & f.Require("size", "bytes, e.g. 16G");
                ulong? b = f.Size("base"), size = f.Size("size");
                if (!ok || b is null || size is null)
                    continue;
                if (size == 0)
                {
                    _r.Error(f["size"]!, f.PathOf("size"), "the size is 0; expected a size like 16G");
                    continue;
                }
                if (!PaRangeOk(f, "base", b.Value, size.Value))
                    continue;
                into.Add(new RangeSpec { Name = f.String("name") ?? $"{defaultName}{i}", Base = b.Value, SizeBytes = size.Value, Where = _r.Span(seq.Children[i], p) });
            }
        }

        private void Mappings(YamlNode node)
        {
            if (_r.Sequence(node, "mappings") is not { } seq)
                return;
            for (int i = 0; i < seq.Children.Count; i++)
            {
                string p = YamlNodeReader.Index("mappings", i);
                var f = _r.Mapping(seq.Children[i], p, "name", "kind", "start", "size", "pa", "thp", "huge-page-size",
                    "pgoff", "device", "device-offset", "vfio-region", "host-pmd", "uncached-ok", "cacheable", "mixedmap",
                    "fault-time-remap", "read-only", "pieces");
                if (f is null)
                    continue;
                bool ok = f.Require("kind", "anon, hugetlb or pfnmap") & f.Require("start", "the VMA's first HVA") & f.Require("size", "bytes");
                var vma = new VmaSpec { Name = f.String("name") ?? $"mapping{i}", Where = _r.Span(seq.Children[i], p) };
                string? kind = f.Choice("kind", "anon", "hugetlb", "pfnmap");
                vma.Kind = kind switch { "hugetlb" => VmaKind.Hugetlb, "pfnmap" => VmaKind.PfnMap, _ => VmaKind.Anonymous };
                vma.Start = f.Size("start") ?? 0;
                vma.SizeBytes = f.Size("size") ?? 0;
                vma.Pa = f.Size("pa");
                vma.Thp = f.Bool("thp");
                vma.HugePageSize = f.Size("huge-page-size") ?? 0;
                vma.PgOff = f.Size("pgoff");
                vma.Device = f.String("device");
                vma.DeviceOffset = f.Size("device-offset") ?? 0;
                vma.VfioRegionIndex = f.Int("vfio-region", 0, 9);
                vma.HostPmd = f.Bool("host-pmd") ?? false;
                vma.UncachedOk = f.Bool("uncached-ok") ?? false;
                vma.Cacheable = f.Bool("cacheable") ?? false;
                vma.MixedMap = f.Bool("mixedmap") ?? false;
                vma.FaultTimeRemap = f.Bool("fault-time-remap") ?? false;
                vma.ReadOnly = f.Bool("read-only") ?? false;
                ulong mappingSize = Math.Min(vma.SizeBytes, MaxSizeBytes);
                // A refused PA or offset is reported, but the mapping is still known by name (no second error
                // at every slot that names it); the errors stop the run anyway.
                if (vma.Pa is { } pa)
                    PaRangeOk(f, "pa", pa, mappingSize);
                // vm_pgoff is a PFN (without device: the host maps PA pgoff << PAGE_SHIFT onwards).
                int pageShift = _s.Host.PageSize.PageShift;
                if (vma.PgOff is { } pgoff)
                    PaRangeOk(f, "pgoff", pgoff <= PaLimit >> pageShift ? pgoff << pageShift : ulong.MaxValue, mappingSize, $"pgoff 0x{pgoff:x} (PA 0x{pgoff:x} << {pageShift})");
                if (vma.DeviceOffset > MaxSizeBytes)
                    _r.Error(f["device-offset"]!, f.PathOf("device-offset"), $"device-offset 0x{vma.DeviceOffset:x} lies beyond any device region (above 2^52); expected an offset inside the device");
                if (f["pieces"] is { } pieces && _r.Sequence(pieces, f.PathOf("pieces")) is { } ps)
                {
                    for (int j = 0; j < ps.Children.Count; j++)
                    {
                        string pp = YamlNodeReader.Index(f.PathOf("pieces"), j);
                        var pf = _r.Mapping(ps.Children[j], pp, "offset", "size", "pa");
                        if (pf is null)
                            continue;
                        if (!(pf.Require("offset", "bytes from the mapping's start") & pf.Require("size", "bytes") & pf.Require("pa", "the physical address")))
                            continue;
                        ulong? offset = pf.Size("offset"), pieceSize = pf.Size("size"), piecePa = pf.Size("pa");
                        if (offset is null || pieceSize is null || piecePa is null)
                            continue;
                        if (pieceSize == 0 || offset > mappingSize || pieceSize > mappingSize - offset)
                        {
                            _r.Error(pf["size"]!, pf.PathOf("size"), $"piece [offset 0x{offset:x}, +{SizeText.Format(pieceSize.Value)}) must be non-empty and lie inside the mapping ({SizeText.Format(vma.SizeBytes)})");
                            continue;
                        }
                        if (PaRangeOk(pf, "pa", piecePa.Value, pieceSize.Value))
                            vma.Pieces.Add(new RemapPiece(vma.Start + offset.Value, pieceSize.Value, piecePa.Value));
                    }
                }
                if (kind == "hugetlb" && !f.Has("huge-page-size"))
                    f.Require("huge-page-size", "the hugetlbfs page size, e.g. 2M or 1G");
                if (kind == "pfnmap" && !f.Has("pgoff") && !f.Has("device"))
                    _r.Error(seq.Children[i], p, "a pfnmap mapping needs 'device' (a host device region) or 'pgoff' (vm_pgoff in pages)");
                if (ok)
                {
                    _s.Mappings.Add(vma);
                    _mappingsByName.TryAdd(vma.Name, vma);
                }
            }
        }

        private void Vm(YamlNode node)
        {
            var f = _r.Mapping(node, "vm", "ipa-bits", "fwb", "dic", "range-tlbi", "policies", "eager-split-chunk", "manual-dirty-log-protect", "cost-profile", "max-slots", NewestKernelSpecs.PkvmKey);
            if (f is null)
                return;
            VmSpec vm = _s.Vm;
            NewestKernelSpecs.Pkvm(_r, f, vm);
            vm.IpaBits = f.Int("ipa-bits", Stage2Geometry.MinIpaBits, Stage2Geometry.MaxIpaBits) ?? 40;
            vm.Fwb = f.Bool("fwb") ?? false;
            vm.Dic = f.Bool("dic") ?? true;
            vm.RangeTlbi = f.Bool("range-tlbi") ?? false;
            vm.EagerSplitChunkBytes = f.Size("eager-split-chunk") ?? 0;
            vm.ManualDirtyLogProtect = f.Bool("manual-dirty-log-protect") ?? false;
            vm.MaxSlots = f.Int("max-slots", 1, 32764) ?? 32764;
            if (f.String("cost-profile") is { } profile)
            {
                if (CostProfiles.TryGet(profile) is null)
                    _r.Error(f["cost-profile"]!, f.PathOf("cost-profile"), $"unknown cost profile '{profile}'; expected one of {string.Join(", ", CostProfiles.Names)}");
                vm.CostProfile = profile;
            }
            if (f["policies"] is { } policies && _r.Sequence(policies, f.PathOf("policies")) is { } seq)
            {
                for (int i = 0; i < seq.Children.Count; i++)
                {
                    string p = YamlNodeReader.Index(f.PathOf("policies"), i);
                    if (_r.Choice(seq.Children[i], p, PolicyRegistry.TargetNames.ToArray()) is { } name)
                    {
                        vm.Policies.Add(name);
                        _policyNodes[name] = seq.Children[i];
                    }
                }
            }
        }

        /// <summary>
        /// The mapping a slot or an event names, with <paramref name="offset"/> inside it; else null, the error
        /// (an unknown name, or an offset past its end) reported at the key.
        /// </summary>
        private VmaSpec? MappingAt(YamlNodeReader.Fields f, string name, ulong offset)
        {
            VmaSpec? vma = _mappingsByName.GetValueOrDefault(name);
            if (vma is null)
            {
                _r.Error(f["mapping"]!, f.PathOf("mapping"), $"no mapping named '{name}'; mappings: {string.Join(", ", _s.Mappings.Select(m => m.Name))}");
                return null;
            }
            if (offset >= vma.SizeBytes && vma.SizeBytes != 0)
            {
                _r.Error(f["offset"]!, f.PathOf("offset"), $"offset 0x{offset:x} is not inside mapping '{name}' ({SizeText.Format(vma.SizeBytes)}); expected less than 0x{vma.SizeBytes:x}");
                return null;
            }
            return vma;
        }

        private MemslotSpec? Memslot(YamlNode node, string path)
        {
            var f = _r.Mapping(node, path, "id", "ipa", "size", "hva", "mapping", "offset", "readonly", "log", NewestKernelSpecs.GuestMemfdKey);
            if (f is null)
                return null;
            bool ok = f.Require("id", "the slot number") & f.Require("ipa", "the guest physical base");
            var slot = new MemslotSpec { Where = _r.Span(node, path) };
            slot.Id = f.Int("id", 0, 32763) ?? 0;
            slot.Ipa = f.Size("ipa") ?? 0;
            ulong offset = f.Size("offset") ?? 0;
            ulong? size = f.Size("size");
            if (f.String("mapping") is { } mappingName)
            {
                if (MappingAt(f, mappingName, offset) is not { } vma)
                    return null;
                slot.Hva = vma.Start + offset;
                size ??= vma.SizeBytes - Math.Min(offset, vma.SizeBytes);
            }
            else if (f.Size("hva") is { } hva)
            {
                slot.Hva = hva + offset;
            }
            else
            {
                _r.Error(node, path, "missing 'mapping' (the name of a mapping the slot is backed by) or 'hva'");
                ok = false;
            }
            if (size is null)
            {
                f.Require("size", "bytes (optional only with 'mapping')");
                ok = false;
            }
            else if (size.Value > MaxSizeBytes)
            {
                _r.Error(f["size"] ?? node, f.PathOf("size"), $"size {SizeText.Format(size.Value)} is absurd: above 2^52; its dirty bitmap alone would need {SizeText.Format(size.Value / 4096 / 8)} with 4K pages");
                ok = false;
            }
            slot.SizeBytes = size ?? 0;
            if (f.Bool("readonly") == true)
                slot.Flags |= MemslotFlags.ReadOnly;
            if (f.Bool("log") == true)
                slot.Flags |= MemslotFlags.LogDirtyPages;
            slot.Flags |= NewestKernelSpecs.GuestMemfd(f);
            return ok ? slot : null;
        }

        /// <summary>
        /// A physical range [pa, pa + size) that the model can encode: it must not wrap and must end at or below
        /// 2^48 (<see cref="ScenarioLimits.PaLimit"/>; 52-bit output addresses are not modelled).
        /// </summary>
        private bool PaRangeOk(YamlNodeReader.Fields f, string key, ulong pa, ulong size, string? what = null)
        {
            if (size <= PaLimit && pa <= PaLimit - size)
                return true;
            string shown = what ?? $"{key} 0x{pa:x}";
            _r.Error(f[key] ?? f.Node, f.PathOf(key), $"{shown} + {SizeText.Format(size)} ends above 2^{ScenarioLimits.PaBits} (0x{PaLimit:x}), the physical address limit of the model (48-bit output addresses; FEAT_LPA/LPA2 52-bit PAs are not modelled); expected a physical range below it");
            return false;
        }

        /// <summary>Cross-references and sizes, once the file parsed.</summary>
        public void Validate()
        {
            var names = new HashSet<string>();
            foreach (VmaSpec vma in _s.Mappings)
            {
                if (!names.Add(vma.Name))
                    _r.Errors.Add(new ScenarioError(_s.SourceFile, vma.Where.Line, vma.Where.Column, vma.Where.Path, $"a second mapping named '{vma.Name}'; mapping names must be unique"));
                if (vma.SizeBytes == 0 || vma.SizeBytes > MaxSizeBytes)
                    _r.Errors.Add(new ScenarioError(_s.SourceFile, vma.Where.Line, vma.Where.Column, vma.Where.Path + ".size", $"size {SizeText.Format(vma.SizeBytes)} must be non-zero and at most 2^52"));
                if (vma.Device is { } dev && _s.Host.Devices.Find(d => d.Name == dev) is null)
                    _r.Errors.Add(new ScenarioError(_s.SourceFile, vma.Where.Line, vma.Where.Column, vma.Where.Path + ".device", $"no device region named '{dev}' in host.devices ({string.Join(", ", _s.Host.Devices.Select(d => d.Name))})"));
            }
            var ids = new HashSet<int>();
            foreach (MemslotSpec slot in _s.Memslots)
            {
                if (!ids.Add(slot.Id))
                    _r.Errors.Add(new ScenarioError(_s.SourceFile, slot.Where.Line, slot.Where.Column, slot.Where.Path + ".id", $"slot id {slot.Id} is used twice; later changes belong in the timeline (slot-move, dirty-log)"));
            }
            NewestKernelSpecs.Validate(_s, _policyNodes, _r.Errors);
            // The whole timeline's guest accesses, against the limit that keeps a run within minutes.
            ulong accesses = 0;
            foreach (TimelineEvent ev in _s.Timeline)
            {
                if (ev is not WorkloadEvent w)
                    continue;
                accesses += w.AccessCount(_s.Host.PageSize);
                if (accesses > ScenarioLimits.MaxAccessesPerRun)
                {
                    _r.Errors.Add(new ScenarioError(_s.SourceFile, ev.Where.Line, ev.Where.Column, ev.Where.Path + ".workload", $"the workloads up to here make {accesses:N0} guest accesses, above the limit of {ScenarioLimits.MaxAccessesPerRun:N0} per run (about 3.2 s per 10^8 accesses per policy); lower a count, use a larger stride or a smaller range"));
                    break;
                }
            }
            if (_s.Vm.Policies.Count == 0)
                _s.Vm.Policies.AddRange(PolicyRegistry.ComparedNames);
        }
    }
}
