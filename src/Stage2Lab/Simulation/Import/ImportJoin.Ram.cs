using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Workloads;

namespace Stage2Lab.Simulation.Import;

internal sealed partial class ImportJoin
{
    /// <summary>
    /// Host RAM from iomem's top-level `System RAM` lines (merged, cut to whole pages); the PA behind anonymous,
    /// shmem and hugetlbfs memory is never in a record, so it is allocated from that RAM, aligned to the block the
    /// kernel would hand out (the huge page; a PMD for THP memory), and listed as assumed. When iomem is absent or
    /// too small, an assumed RAM range holds the rest.
    /// </summary>
    private void HostRamAndBackingPas()
    {
        var ram = new List<(ulong Start, ulong End, List<SourceRef> Sources)>();
        foreach (IomemRow row in _r.Iomem.Where(r => r.Depth == 0 && r.Name.StartsWith("System RAM", StringComparison.Ordinal)).OrderBy(r => r.Start))
        {
            ulong start = AlignUp(row.Start, _granule.PageSize), end = (row.EndInclusive + 1) & _granule.PageMask;
            if (ram.Count > 0 && start <= ram[^1].End)
            {
                ram[^1] = (ram[^1].Start, Math.Max(ram[^1].End, end), ram[^1].Sources);
                ram[^1].Sources.Add(row.Where);
                continue;
            }
            if (end > start)
                ram.Add((start, end, [row.Where]));
        }
        foreach (var (start, end, sources) in ram)
        {
            var range = new RangeSpec { Name = $"ram{_s.Host.Ram.Count}", Base = start, SizeBytes = end - start };
            _prov.Source(range, sources);
            _s.Host.Ram.Add(range);
            foreach (RangeSpec dev in _s.Host.Devices.Where(d => d.Base < end && start < d.Base + d.SizeBytes))
                Contradiction(_prov.For(dev).Sources.FirstOrDefault(), sources[0], $"device region {dev.Name} at 0x{dev.Base:x} lies in System RAM [0x{start:x}, 0x{end:x})");
        }
        if (ram.Count > 0)
            _facts.Add($"host.ram: {ram.Count} System RAM range(s) from /proc/iomem ({ram[0].Sources[0]})");

        var needs = _s.Mappings.Where(m => m.Kind != VmaKind.PfnMap).Select(m => (Mapping: m, Align: BackingAlign(m))).ToList();
        var taken = new List<(ulong Start, ulong End)>();
        var unplaced = needs.Where(n => !TryAllocate(n.Mapping, n.Align, taken)).ToList();
        if (unplaced.Count > 0 || _s.Host.Ram.Count == 0)
        {
            ulong total = unplaced.Aggregate(0UL, (sum, n) => AlignUp(sum, n.Align) + n.Mapping.SizeBytes);
            ulong size = AlignUp(Math.Max(total + (unplaced.Count > 0 ? unplaced.Max(n => n.Align) : 0), GiB), GiB);
            ulong base_ = AssumedRamBase;
            while (_s.Host.Devices.Concat(_s.Host.Ram).FirstOrDefault(d => d.Base < base_ + size && base_ < d.Base + d.SizeBytes) is { } clash)
                base_ = AlignUp(clash.Base + clash.SizeBytes, GiB);
            var assumed = new RangeSpec { Name = $"ram{_s.Host.Ram.Count}", Base = base_, SizeBytes = size };
            _prov.Assume(assumed, _s.Host.Ram.Count == 0
                ? "no /proc/iomem: host RAM placed here, large enough for the guest memory"
                : "/proc/iomem's System RAM cannot hold all guest memory (a partial paste?): more RAM placed here");
            _s.Host.Ram.Add(assumed);
            Assume(AssumptionKind.HostRam, "host.ram", $"[0x{base_:x}, +{SizeText.Format(size)}): {(ram.Count == 0 ? "no /proc/iomem gives the host's RAM" : "the System RAM in /proc/iomem is too small for the guest memory")}");
            foreach (var (mapping, align) in unplaced)
            {
                if (!TryAllocate(mapping, align, taken))
                    throw new ImportException($"no room for the {SizeText.Format(mapping.SizeBytes)} backing of mapping '{mapping.Name}' in the assumed RAM");
            }
        }
        if (needs.Count > 0)
            Assume(AssumptionKind.BackingPa, "backing PAs", "the physical addresses behind anonymous, shmem and hugetlbfs memory (no record shows them; /proc/PID/pagemap would, as root): each mapping contiguous from host RAM, aligned to its huge page or, with THP, to a PMD");
    }

    private ulong BackingAlign(VmaSpec m) => m.Kind == VmaKind.Hugetlb ? m.HugePageSize
        : (_s.Host.Thp == ThpMode.Always && m.Thp != false) || (_s.Host.Thp == ThpMode.Madvise && m.Thp == true) ? _config.PmdSize
        : _granule.PageSize;

    private bool TryAllocate(VmaSpec m, ulong align, List<(ulong Start, ulong End)> taken)
    {
        foreach (RangeSpec range in _s.Host.Ram)
        {
            ulong candidate = AlignUp(range.Base, align), end = range.Base + range.SizeBytes;
            while (candidate + m.SizeBytes <= end && candidate >= range.Base)
            {
                var clash = taken.Where(t => t.Start < candidate + m.SizeBytes && candidate < t.End).ToList();
                if (clash.Count == 0)
                {
                    taken.Add((candidate, candidate + m.SizeBytes));
                    m.Pa = candidate;
                    _prov.Assume(m, $"backed from PA 0x{candidate:x} (the PA of this memory is in no record)");
                    return true;
                }
                candidate = AlignUp(clash.Max(c => c.End), align);
            }
        }
        return false;
    }

    /// <summary>The memslots, with the IPA space and VA bits they need.</summary>
    private void Memslots()
    {
        ulong maxIpa = _slots.Max(s => s.End);
        int ipaBits = Math.Max(DefaultIpaBits, BitsFor(maxIpa));
        if (ipaBits > Stage2Geometry.MaxIpaBits)
        {
            ipaBits = Stage2Geometry.MaxIpaBits;
            foreach (GuestSlot s in _slots.Where(s => s.End > 1UL << ipaBits).ToList())
            {
                _r.Skipped.Add(new(s.Sources[0], $"memslot at IPA 0x{s.Ipa:x} ends beyond 2^{ipaBits}, the largest IPA space of KVM/arm64: left out"));
                _slots.Remove(s);
            }
        }
        _s.Vm.IpaBits = ipaBits;
        if (ipaBits > DefaultIpaBits)
            _facts.Add($"vm.ipa-bits {ipaBits}: the smallest IPA space (at least {DefaultIpaBits}) that holds every memslot");
        ulong maxHva = _s.Mappings.Count == 0 ? 0 : _s.Mappings.Max(m => m.Start + m.SizeBytes);
        _s.Host.VaBits = maxHva > 1UL << DefaultVaBits ? WideVaBits : DefaultVaBits;
        foreach (GuestSlot slot in _slots)
        {
            var spec = new MemslotSpec { Id = slot.Id ?? 0, Ipa = slot.Ipa, SizeBytes = slot.SizeBytes, Hva = slot.Hva!.Value, Flags = slot.Flags };
            _prov.Source(spec, slot.Sources);
            foreach (string a in slot.Assumed)
                _prov.Assume(spec, a);
            _s.Memslots.Add(spec);
        }
    }

    /// <summary>No record holds the guest's accesses: one pass over each memslot, one access per PMD-size block.</summary>
    private void Timeline()
    {
        foreach (MemslotSpec slot in _s.Memslots)
        {
            ulong stride = slot.SizeBytes >= _config.PmdSize ? _config.PmdSize : _granule.PageSize;
            bool readOnly = (slot.Flags & MemslotFlags.ReadOnly) != 0;
            var w = new WorkloadEvent
            {
                Name = $"slot {slot.Id}",
                Pattern = WorkloadPattern.Sequential,
                Ipa = slot.Ipa,
                SizeBytes = slot.SizeBytes,
                StrideBytes = stride,
                ReadPercent = readOnly ? 100 : 50,
                WritePercent = readOnly ? 0 : 50,
            };
            _prov.Assume(w, $"one pass over memslot {slot.Id}, one access every {SizeText.Format(stride)}, {(readOnly ? "reads" : "half reads, half writes")}");
            _s.Timeline.Add(w);
        }
        Assume(AssumptionKind.Workload, "timeline", $"no record holds the guest's accesses: one pass over every memslot touching each {SizeText.Format(_config.PmdSize)} block once (each page of smaller slots), half reads and half writes (reads only on read-only slots)");
    }

    private static int BitsFor(ulong end) => end <= 1 ? 1 : 64 - System.Numerics.BitOperations.LeadingZeroCount(end - 1);
}
