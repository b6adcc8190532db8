using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.Kvm.Policies;
using Stage2Lab.Simulation.Metrics;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Stage2Lab.Simulation.Scenarios;

/// <summary>
/// Reads a scenario from YAML or JSON (the same model; JSON is read by the YAML parser, so errors carry line
/// and column either way). All errors of a file are collected and thrown together as a
/// <see cref="ScenarioException"/>.
/// </summary>
public static class ScenarioReader
{
    /// <summary>Largest size a scenario may use anywhere (2^52: the arm64 PA limit).</summary>
    public const ulong MaxSizeBytes = ScenarioLimits.MaxSizeBytes;

    private const ulong PaLimit = ScenarioLimits.PaLimit;

    public static Scenario Load(string path)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new ScenarioException([new ScenarioError("(no file name)", 0, 0, "", "the scenario path is empty; give the path of a YAML or JSON scenario file")]);
        string text = Decode(ReadBytes(path), path);
        return Parse(text, path, Path.GetDirectoryName(Path.GetFullPath(path)));
    }

    /// <summary>
    /// A scenario already read (standard input, a pipe): the same size and text checks as a file. Relative trace
    /// paths are taken from <paramref name="baseDirectory"/>.
    /// </summary>
    public static Scenario Load(byte[] bytes, string name, string? baseDirectory) => Parse(Decode(bytes, name), name, baseDirectory);

    /// <summary>
    /// The file's bytes, read with a bound (<see cref="ScenarioLimits.MaxScenarioFileBytes"/>) so that /dev/zero,
    /// a pipe or a huge file cannot exhaust memory.
    /// </summary>
    private static byte[] ReadBytes(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
            return BoundedRead.ReadAtMost(stream, ScenarioLimits.MaxScenarioFileBytes);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ScenarioException([new ScenarioError(path, 0, 0, "", "no such file; give the path of a YAML or JSON scenario (or - for standard input)")]);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ScenarioException([new ScenarioError(path, 0, 0, "", $"cannot read the file: {ex.Message}")]);
        }
    }

    /// <summary>The text of a scenario's bytes, refused when too large or holding a NUL byte (not a text file).</summary>
    private static string Decode(byte[] bytes, string name)
    {
        if (bytes.Length > ScenarioLimits.MaxScenarioFileBytes)
            throw new ScenarioException([new ScenarioError(name, 0, 0, "", $"the file is larger than {SizeText.Format((ulong)ScenarioLimits.MaxScenarioFileBytes)}, the limit for a scenario; a real one is a few KiB (put long access lists in a trace file)")]);
        int nul = Array.IndexOf(bytes, (byte)0);
        if (nul >= 0)
        {
            int line = 1 + bytes.AsSpan(0, nul).Count((byte)'\n');
            throw new ScenarioException([new ScenarioError(name, line, 0, "", "not a text file (a NUL byte); expected a YAML or JSON scenario")]);
        }
        using var reader = new StreamReader(new MemoryStream(bytes), System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }

    /// <summary>The text of a scenario file, read and checked as <see cref="Load(string)"/> does (to parse it again and again, e.g. with overrides).</summary>
    public static string ReadText(string path)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new ScenarioException([new ScenarioError("(no file name)", 0, 0, "", "the scenario path is empty; give the path of a YAML or JSON scenario file")]);
        return Decode(ReadBytes(path), path);
    }

    /// <summary>The text of a scenario already read (standard input), checked as <see cref="Load(byte[], string, string?)"/> does.</summary>
    public static string DecodeText(byte[] bytes, string name) => Decode(bytes, name);

    public static Scenario Parse(string text, string file, string? baseDirectory = null) => Parse(text, file, baseDirectory, []);

    /// <summary>
    /// Reads a scenario with some values replaced first (<see cref="ScenarioOverride"/>): each replaced value is
    /// validated as if the file held it, and its errors say it came from the override.
    /// </summary>
    public static Scenario Parse(string text, string file, string? baseDirectory, IReadOnlyList<ScenarioOverride> overrides)
    {
        var stream = new YamlStream();
        var parser = new BoundedYamlParser(new Parser(new StringReader(text)));
        try
        {
            stream.Load(parser);
        }
        catch (YamlException ex)
        {
            throw new ScenarioException([new ScenarioError(file, (int)ex.Start.Line, (int)ex.Start.Column, "", $"not valid YAML/JSON: {ex.InnerException?.Message ?? ex.Message}")]);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or FormatException or OverflowException or IndexOutOfRangeException or NullReferenceException)
        {
            // YamlDotNet throws these without a position on some malformed flow collections (an unclosed '{'
            // followed by another line): name where the parser got to.
            throw new ScenarioException([new ScenarioError(file, (int)parser.LastStart.Line, (int)parser.LastStart.Column, "", $"not valid YAML/JSON after this point (an unclosed '{{' or '[', or a missing ',' or ':'?)")]);
        }
        if (stream.Documents.Count == 0)
            throw new ScenarioException([new ScenarioError(file, 1, 1, "", "the file is empty; expected a mapping with host, mappings, vm, memslots, timeline")]);

        string[] overridden = overrides.Count == 0 ? [] : ScenarioKeyPaths.Apply(stream.Documents[0].RootNode, overrides, file);
        var r = new YamlNodeReader(file);
        var scenario = new Scenario { SourceFile = file };
        var binder = new Binder(r, scenario, baseDirectory ?? Directory.GetCurrentDirectory());
        binder.Root(stream.Documents[0].RootNode);
        if (r.Errors.Count == 0)
            binder.Validate();
        if (r.Errors.Count > 0)
            throw new ScenarioException(r.Errors.OrderBy(e => e.Line).ThenBy(e => e.Column).Select(e => FromOverride(e, overrides, overridden)).ToList());
        return scenario;
    }

    /// <summary>An error at an overridden key says which override set the value (the file's line holds another).</summary>
    private static ScenarioError FromOverride(ScenarioError error, IReadOnlyList<ScenarioOverride> overrides, string[] overridden)
    {
        int i = Array.IndexOf(overridden, error.Path);
        return i < 0 ? error : error with { Message = $"{error.Message} (the value '{overrides[i].Value}' was set by --vary {overrides[i].Key})" };
    }

    private sealed class Binder
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
                VmaSpec? vma = _mappingsByName.GetValueOrDefault(mappingName);
                if (vma is null)
                {
                    _r.Error(f["mapping"]!, f.PathOf("mapping"), $"no mapping named '{mappingName}'; mappings: {string.Join(", ", _s.Mappings.Select(m => m.Name))}");
                    return null;
                }
                if (offset >= vma.SizeBytes && vma.SizeBytes != 0)
                {
                    _r.Error(f["offset"]!, f.PathOf("offset"), $"offset 0x{offset:x} is not inside mapping '{mappingName}' ({SizeText.Format(vma.SizeBytes)}); expected less than 0x{vma.SizeBytes:x}");
                    return null;
                }
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

        private static readonly string[] EventKinds =
            ["workload", "access", "slot-create", "slot-delete", "slot-move", "dirty-log", "get-dirty-log", "clear-dirty-log", "munmap", "zap", "age", "teardown"];

        private void Timeline(YamlNode node)
        {
            if (_r.Sequence(node, "timeline") is not { } seq)
                return;
            for (int i = 0; i < seq.Children.Count; i++)
            {
                string p = YamlNodeReader.Index("timeline", i);
                YamlNode entry = seq.Children[i];
                var f = _r.Mapping(entry, p, EventKinds);
                if (f is null)
                    continue;
                if (f.Values.Count != 1)
                {
                    _r.Error(entry, p, $"each timeline entry has exactly one event key; expected one of {string.Join(", ", EventKinds)}");
                    continue;
                }
                var (kind, body) = f.Values.First();
                string bp = f.PathOf(kind);
                TimelineEvent? ev = kind switch
                {
                    "workload" => Workload(body, bp),
                    "access" => Access(body, bp),
                    "slot-create" => SlotCreate(body, bp),
                    "slot-delete" => SlotRef<SlotDeleteEvent>(body, bp),
                    "slot-move" => SlotMove(body, bp),
                    "dirty-log" => DirtyLog(body, bp),
                    "get-dirty-log" => SlotRef<GetDirtyLogEvent>(body, bp),
                    "clear-dirty-log" => ClearDirtyLog(body, bp),
                    "munmap" => HvaRange(body, bp, zap: false),
                    "zap" => HvaRange(body, bp, zap: true),
                    "age" => Age(body, bp),
                    _ => Teardown(body, bp),
                };
                if (ev is null)
                    continue;
                ev.Where = _r.Span(entry, p);
                if (ev.Name.Length == 0)
                    ev.Name = $"{i + 1}:{ev.Kind}";
                _s.Timeline.Add(ev);
            }
        }

        private TimelineEvent? Access(YamlNode body, string path)
        {
            var f = _r.Mapping(body, path, "name", "ipa", "kind", NewestKernelSpecs.GuestKey);
            if (f is null || !(f.Require("ipa", "the guest physical address") & f.Require("kind", "read, write or exec")))
                return null;
            string? kind = f.Choice("kind", "read", "write", "exec");
            return new AccessEvent
            {
                Name = f.String("name") ?? "",
                Ipa = f.Size("ipa") ?? 0,
                Access = kind switch { "write" => AccessKind.Write, "exec" => AccessKind.Exec, _ => AccessKind.Read },
                L2Guest = NewestKernelSpecs.L2Guest(f),
            };
        }

        private TimelineEvent? Teardown(YamlNode body, string path)
        {
            if (body is YamlScalarNode { Value: null or "" })
                return new TeardownEvent();
            var f = _r.Mapping(body, path, "name");
            return f is null ? null : new TeardownEvent { Name = f.String("name") ?? "" };
        }

        private WorkloadEvent? Workload(YamlNode body, string path)
        {
            var f = _r.Mapping(body, path, "name", "pattern", "ipa", "size", "slot", "stride", "count", "seed", "mix", "skew", "buckets", "file", NewestKernelSpecs.GuestKey);
            if (f is null)
                return null;
            var w = new WorkloadEvent { Name = f.String("name") ?? "", L2Guest = NewestKernelSpecs.L2Guest(f) };
            if (!f.Require("pattern", "sequential, random, strided, zipf or trace"))
                return null;
            string? pattern = f.Choice("pattern", "sequential", "random", "strided", "zipf", "trace");
            if (pattern is null)
                return null;
            w.Pattern = pattern switch
            {
                "random" => WorkloadPattern.Random,
                "strided" => WorkloadPattern.Strided,
                "zipf" => WorkloadPattern.Zipf,
                "trace" => WorkloadPattern.Trace,
                _ => WorkloadPattern.Sequential,
            };
            if (w.Pattern == WorkloadPattern.Trace)
            {
                if (!f.Require("file", "a CSV trace, lines ipa,kind[,vcpu]"))
                    return null;
                w.TraceFile = f.String("file");
                string tracePath = Path.Combine(_baseDirectory, w.TraceFile!);
                // A trace named by several workloads is read once.
                if (!_traces.TryGetValue(tracePath, out var trace))
                    _traces[tracePath] = trace = TraceReader.Load(tracePath, _r, f["file"]!, f.PathOf("file"));
                w.Trace = trace;
                return w;
            }
            if (f.Int("slot", 0, 32763) is { } slotId)
            {
                MemslotSpec? slot = _slotsById.GetValueOrDefault(slotId);
                if (slot is null)
                {
                    _r.Error(f["slot"]!, f.PathOf("slot"), $"no memslot with id {slotId} in 'memslots'");
                    return null;
                }
                w.Ipa = slot.Ipa;
                w.SizeBytes = slot.SizeBytes;
            }
            else if (!(f.Require("ipa", "the first IPA of the range (or give 'slot')") & f.Require("size", "bytes")))
            {
                return null;
            }
            w.Ipa = f.Size("ipa") ?? w.Ipa;
            w.SizeBytes = f.Size("size") ?? w.SizeBytes;
            w.StrideBytes = f.Size("stride") ?? 0;
            w.Count = f.Size("count") ?? 0;
            w.Seed = f.Size("seed") ?? 1;
            w.Skew = f.Double("skew", 0.0, 4.0) ?? 1.0;
            w.ZipfBuckets = f.Size("buckets") ?? 4096;
            if (w.SizeBytes == 0)
                _r.Error(f["size"] ?? body, f.PathOf("size"), "the workload range is empty; expected a size like 16G");
            else if (w.SizeBytes > MaxSizeBytes || w.Ipa > MaxSizeBytes - w.SizeBytes)
                _r.Error(f["size"] ?? f["ipa"] ?? body, f.PathOf(f.Has("size") ? "size" : "ipa"), $"the range [0x{w.Ipa:x}, +{SizeText.Format(w.SizeBytes)}) ends above 2^52 (no IPA space is that large); expected an IPA range inside the VM's");
            if (w.StrideBytes > MaxSizeBytes)
                _r.Error(f["stride"]!, f.PathOf("stride"), $"stride {SizeText.Format(w.StrideBytes)} is above 2^52; expected a step inside the range, like 4K or 2M");
            if (w.Pattern is WorkloadPattern.Random or WorkloadPattern.Zipf && w.Count == 0)
                _r.Error(body, path, $"a {pattern} workload needs 'count' (how many accesses)");
            if (w.Count > ScenarioLimits.MaxAccessesPerRun)
                _r.Error(f["count"]!, f.PathOf("count"), $"count {w.Count} is above the limit of {ScenarioLimits.MaxAccessesPerRun:N0} accesses per run (about 3.2 s per 10^8 accesses per policy); lower the count");
            else if (w.Count == 0 && w.SizeBytes != 0 && w.Pattern is WorkloadPattern.Sequential or WorkloadPattern.Strided)
            {
                ulong pass = w.AccessCount(_s.Host.PageSize);
                if (pass > ScenarioLimits.MaxAccessesPerRun)
                    _r.Error(f["stride"] ?? f["size"] ?? body, f.PathOf(f.Has("stride") ? "stride" : "size"), $"one pass over {SizeText.Format(w.SizeBytes)} with a stride of {SizeText.Format(w.StrideBytes != 0 ? w.StrideBytes : _s.Host.PageSize.PageSize)} is {pass:N0} accesses, above the limit of {ScenarioLimits.MaxAccessesPerRun:N0} per run (about 3.2 s per 10^8 accesses per policy); use a larger stride, a smaller range, or a count");
            }
            if (f["mix"] is { } mix)
            {
                var m = _r.Mapping(mix, f.PathOf("mix"), "read", "write", "exec");
                if (m is not null)
                {
                    w.ReadPercent = m.Int("read", 0, 100) ?? 0;
                    w.WritePercent = m.Int("write", 0, 100) ?? 0;
                    w.ExecPercent = m.Int("exec", 0, 100) ?? 0;
                    if (w.ReadPercent + w.WritePercent + w.ExecPercent != 100)
                        _r.Error(mix, f.PathOf("mix"), $"read + write + exec = {w.ReadPercent + w.WritePercent + w.ExecPercent}; the percentages must add up to 100");
                }
            }
            return w;
        }

        private TimelineEvent? SlotCreate(YamlNode body, string path)
        {
            MemslotSpec? slot = Memslot(body, path);
            if (slot is null)
                return null;
            return new SlotCreateEvent { Slot = slot, Name = $"slot-create {slot.Id}" };
        }

        private T? SlotRef<T>(YamlNode body, string path) where T : TimelineEvent, new()
        {
            var f = _r.Mapping(body, path, "name", "slot");
            if (f is null || !f.Require("slot", "the memslot id"))
                return null;
            var ev = new T { Name = f.String("name") ?? "" };
            int id = f.Int("slot", 0, 32763) ?? 0;
            switch (ev)
            {
                case SlotDeleteEvent d: d.SlotId = id; break;
                case GetDirtyLogEvent g: g.SlotId = id; break;
            }
            return ev;
        }

        private TimelineEvent? SlotMove(YamlNode body, string path)
        {
            var f = _r.Mapping(body, path, "name", "slot", "ipa");
            if (f is null || !(f.Require("slot", "the memslot id") & f.Require("ipa", "the new guest physical base")))
                return null;
            return new SlotMoveEvent { Name = f.String("name") ?? "", SlotId = f.Int("slot", 0, 32763) ?? 0, Ipa = f.Size("ipa") ?? 0 };
        }

        private TimelineEvent? DirtyLog(YamlNode body, string path)
        {
            var f = _r.Mapping(body, path, "name", "slot", "enable");
            if (f is null || !(f.Require("slot", "the memslot id") & f.Require("enable", "true or false")))
                return null;
            bool enable = f.Bool("enable") ?? false;
            return new DirtyLogEvent { Name = f.String("name") ?? (enable ? "dirty-log on" : "dirty-log off"), SlotId = f.Int("slot", 0, 32763) ?? 0, Enable = enable };
        }

        private TimelineEvent? ClearDirtyLog(YamlNode body, string path)
        {
            var f = _r.Mapping(body, path, "name", "slot", "first-page", "pages");
            if (f is null || !f.Require("slot", "the memslot id"))
                return null;
            return new ClearDirtyLogEvent { Name = f.String("name") ?? "", SlotId = f.Int("slot", 0, 32763) ?? 0, FirstPage = f.Size("first-page") ?? 0, NumPages = f.Size("pages") ?? 0 };
        }

        private TimelineEvent? HvaRange(YamlNode body, string path, bool zap)
        {
            var f = _r.Mapping(body, path, "name", "mapping", "offset", "hva", "size");
            if (f is null)
                return null;
            if (!ResolveHvaRange(f, body, path, out ulong hva, out ulong size))
                return null;
            return new UnmapEvent { Name = f.String("name") ?? "", Zap = zap, Hva = hva, SizeBytes = size };
        }

        private TimelineEvent? Age(YamlNode body, string path)
        {
            var f = _r.Mapping(body, path, "name", "mapping", "offset", "hva", "size");
            if (f is null || !ResolveHvaRange(f, body, path, out ulong hva, out ulong size))
                return null;
            return new AgeEvent { Name = f.String("name") ?? "", Hva = hva, SizeBytes = size };
        }

        private bool ResolveHvaRange(YamlNodeReader.Fields f, YamlNode body, string path, out ulong hva, out ulong size)
        {
            hva = 0;
            size = 0;
            ulong offset = f.Size("offset") ?? 0;
            if (f.String("mapping") is { } name)
            {
                VmaSpec? vma = _mappingsByName.GetValueOrDefault(name);
                if (vma is null)
                {
                    _r.Error(f["mapping"]!, f.PathOf("mapping"), $"no mapping named '{name}'; mappings: {string.Join(", ", _s.Mappings.Select(m => m.Name))}");
                    return false;
                }
                if (offset >= vma.SizeBytes && vma.SizeBytes != 0)
                {
                    _r.Error(f["offset"]!, f.PathOf("offset"), $"offset 0x{offset:x} is not inside mapping '{name}' ({SizeText.Format(vma.SizeBytes)}); expected less than 0x{vma.SizeBytes:x}");
                    return false;
                }
                hva = vma.Start + offset;
                size = f.Size("size") ?? vma.SizeBytes - Math.Min(offset, vma.SizeBytes);
                return HvaRangeOk(f, body, path, hva, size);
            }
            if (f.Size("hva") is { } h)
            {
                hva = h + offset;
                if (!f.Require("size", "bytes"))
                    return false;
                size = f.Size("size") ?? 0;
                return HvaRangeOk(f, body, path, hva, size);
            }
            _r.Error(body, path, "missing 'mapping' (a mapping name) or 'hva' and 'size'");
            return false;
        }

        /// <summary>An HVA range that does not wrap past 2^64 and is not absurdly large.</summary>
        private bool HvaRangeOk(YamlNodeReader.Fields f, YamlNode body, string path, ulong hva, ulong size)
        {
            if (size <= MaxSizeBytes && hva <= ulong.MaxValue - size)
                return true;
            _r.Error(f["size"] ?? body, f.Has("size") ? f.PathOf("size") : path, $"the range [0x{hva:x}, +0x{size:x}) wraps past 2^64 or is above 2^52; expected a range inside the mapping");
            return false;
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
