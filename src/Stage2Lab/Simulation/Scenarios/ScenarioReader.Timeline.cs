using Stage2Lab.Arch;
using YamlDotNet.RepresentationModel;

namespace Stage2Lab.Simulation.Scenarios;

public static partial class ScenarioReader
{
    /// <summary>The timeline's events: one method per event kind, and the HVA ranges they name.</summary>
    private sealed partial class Binder
    {
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
                if (MappingAt(f, name, offset) is not { } vma)
                    return false;
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
    }
}
