using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Import;

/// <summary>
/// Joins parsed records into a scenario, as docs/import.md describes: the host (page size, THP, RAM, BARs), the
/// VMM's VMAs, the memslots (from kvm_set_user_memory; else vfio_listener_region_add_ram and the mtree's KVM rows;
/// else assumed from the host-side records), a workload per memslot. Every item gets its sources; everything no
/// record gives is assumed explicitly. Contradicting sources are collected and thrown together.
/// </summary>
internal sealed partial class ImportJoin
{
    private readonly ParsedRecords _r;
    private readonly ImportOptions _options;
    private readonly List<ImportAssumption> _assumptions = new();
    private readonly List<string> _contradictions = new();
    private readonly List<string> _facts = new();
    private readonly ImportProvenance _prov = new();
    private readonly Scenario _s = new();
    private readonly List<HostBar> _bars = new();
    private readonly Dictionary<VmaRecord, VmaRole> _roles = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<VmaRecord, VfioPlacement> _vfio = new(ReferenceEqualityComparer.Instance);
    private readonly List<GuestSlot> _slots = new();
    private List<VmaRecord> _vmas = new();
    private Granule _granule = Granule.Size4K;
    private HostPageTableConfig _config = new(Granule.Size4K);

    private ImportJoin(ParsedRecords records, ImportOptions options)
    {
        _r = records;
        _options = options;
    }

    public static ImportResult Run(ParsedRecords records, ImportOptions options)
    {
        var join = new ImportJoin(records, options);
        return join.Run();
    }

    private ImportResult Run()
    {
        ChoosePageSize();
        NoteX86();
        MergeVmas();
        foreach (VmaRecord v in _vmas)
            _roles[v] = VmaClassifier.Classify(v, _granule.PageSize);
        CollectBars();
        PlaceVfioVmas();
        ThrowContradictions();
        BuildSlots();
        if (_slots.Count == 0)
            throw Failure(NothingUsable());
        BuildScenario();
        ThrowContradictions();
        Importer.SortSkipped(_r);
        return new ImportResult
        {
            Scenario = _s,
            Assumptions = _assumptions,
            Skipped = _r.Skipped,
            Facts = _facts,
            Provenance = _prov,
            Inputs = _r.Inputs,
        };
    }

    private void Assume(AssumptionKind kind, string subject, string text, SourceRef? basis = null) =>
        _assumptions.Add(new ImportAssumption(kind, subject, text, basis));

    private void Contradiction(SourceRef a, SourceRef b, string what) =>
        _contradictions.Add($"{a}: contradicts {b}: {what}");

    private void ThrowContradictions()
    {
        if (_contradictions.Count == 0)
            return;
        var messages = new List<string>(_contradictions.Distinct())
        {
            "two records of the same thing disagree, so no scenario is written: check that all records come from the same host, VM and moment",
        };
        throw Failure(messages);
    }

    private ImportException Failure(IReadOnlyList<string> messages)
    {
        Importer.SortSkipped(_r);
        return new ImportException(messages, _r.Skipped);
    }

    /// <summary>The host PAGE_SIZE: --host-page-size, else smaps KernelPageSize of ordinary VMAs, else 4K (assumed).</summary>
    private void ChoosePageSize()
    {
        var seen = _r.Vmas
            .Where(v => v.KernelPageSizeBytes is 4096 or 16384 or 65536 && !v.HasFlag("ht"))
            .GroupBy(v => v.KernelPageSizeBytes!.Value)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key)
            .FirstOrDefault();
        if (_options.HostPageSize is { } given)
        {
            _granule = given;
            _facts.Add($"host.page-size {given.Name}: given with --host-page-size" +
                (seen is not null && seen.Key != given.PageSize ? $" (the records show {SizeText.Format(seen.Key)} pages, e.g. {seen.First().KernelPageSizeWhere})" : ""));
        }
        else if (seen is not null)
        {
            _granule = Granule.FromPageShift(System.Numerics.BitOperations.Log2(seen.Key));
            _facts.Add($"host.page-size {_granule.Name}: KernelPageSize of ordinary VMAs ({seen.First().KernelPageSizeWhere})");
        }
        else
        {
            _granule = Granule.Size4K;
            Assume(AssumptionKind.HostPageSize, "host.page-size", "4K: no record shows the host's base page size (give --host-page-size, or smaps with KernelPageSize)");
        }
        _config = new HostPageTableConfig(_granule);
    }

    private void NoteX86()
    {
        if (_r.X86Evidence.Count == 0)
            return;
        (SourceRef where, string why) = _r.X86Evidence[0];
        Assume(AssumptionKind.X86Layout, "host", $"the records come from an x86 host ({why}); the layout is taken as KVM/arm64 would map it", where);
    }

    /// <summary>One list of VMAs from smaps, maps and pmap; two records of the same VMA must agree on its extent.</summary>
    private void MergeVmas()
    {
        var byStart = new SortedDictionary<ulong, VmaRecord>();
        foreach (VmaRecord v in _r.Vmas.OrderBy(v => v.Format == RecordFormat.Smaps ? 0 : v.Format == RecordFormat.Maps ? 1 : 2))
        {
            if (byStart.TryGetValue(v.Start, out VmaRecord? known))
            {
                if (known.End != v.End)
                    Contradiction(v.Where, known.Where, $"the VMA at 0x{v.Start:x} ends at 0x{v.End:x} in one record and at 0x{known.End:x} in the other");
                else if (v.Where.File != known.Where.File)
                    Absorb(known, v);
                continue;
            }
            byStart[v.Start] = v;
        }
        VmaRecord? previous = null;
        foreach (VmaRecord v in byStart.Values)
        {
            if (previous is not null && v.Start < previous.End)
            {
                if (v.Where.File != previous.Where.File)
                    Contradiction(v.Where, previous.Where, $"VMA {v.Start:x}-{v.End:x} overlaps VMA {previous.Start:x}-{previous.End:x}");
                else
                    _r.Skipped.Add(new(v.Where, $"VMA {v.Start:x}-{v.End:x} overlaps the VMA at {previous.Where}; VMAs never overlap, so one of them is from another moment"));
                continue;
            }
            _vmas.Add(v);
            previous = v;
        }
    }

    /// <summary>What a second record of the same VMA adds (smaps flags to a pmap row, a path to an anonymous row).</summary>
    private static void Absorb(VmaRecord into, VmaRecord other)
    {
        into.KernelPageSizeBytes ??= other.KernelPageSizeBytes;
        into.KernelPageSizeWhere ??= other.KernelPageSizeWhere;
        into.AnonHugePagesBytes ??= other.AnonHugePagesBytes;
        into.ThpEligible ??= other.ThpEligible;
        if (into.VmFlags is null && other.VmFlags is not null)
        {
            into.VmFlags = other.VmFlags;
            into.VmFlagsWhere = other.VmFlagsWhere;
        }
        if (into.Path.Length == 0)
            into.Path = other.Path;
    }

    private string[] NothingUsable()
    {
        var messages = new List<string>();
        foreach ((RecordFormat format, string file) in _r.Inputs)
        {
            int skipped = _r.Skipped.Count(s => s.Where.File == file);
            messages.Add($"{file}: {RecordFormats.Describe(format)}: {Used(format, file)} usable record(s), {skipped} skipped line(s)");
        }
        messages.Add("nothing usable remains: the records give no guest memory (no memslot in a trace, no vfio_listener or KVM mtree row, " +
            "no guest-RAM-sized VMA or vfio-pci BAR mmap in maps/smaps/pmap, no BAR of a device bound to vfio-pci in lspci/iomem); see the skipped lines above");
        return messages.ToArray();
    }

    private int Used(RecordFormat format, string file) => format switch
    {
        RecordFormat.Smaps or RecordFormat.Maps or RecordFormat.Pmap => _r.Vmas.Count(v => v.Where.File == file),
        RecordFormat.QemuTrace => _r.Slots.Count(x => x.Where.File == file) + _r.Listener.Count(x => x.Where.File == file) + _r.VfioRegions.Count(x => x.Where.File == file) + _r.VfioMmaps.Count(x => x.Where.File == file),
        RecordFormat.Mtree => _r.Mtree.Count(x => x.Where.File == file),
        RecordFormat.Iomem => _r.Iomem.Count(x => x.Where.File == file),
        _ => _r.PciBars.Count(x => x.Where.File == file),
    };
}
