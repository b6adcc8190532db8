using System.Numerics;
using Stage2Lab.Arch;
using Stage2Lab.PageTables;

namespace Stage2Lab.Simulation.Runs;

/// <summary>
/// The final IPA map: counts leaves and bytes per level and merges consecutive leaves of one level and memory
/// type (device or not) into runs. A last-level table's pages come in one call and extend a run a stretch of
/// same-type pages at a time, with the same runs as one leaf at a time.
/// </summary>
internal struct LeafRunBuilder : IPageLeavesSink
{
    private readonly FinalState _final;
    private readonly uint _deviceAttr;
    private LeafRun _current;
    private bool _open;

    public LeafRunBuilder(FinalState final, bool fwb)
    {
        _final = final;
        _deviceAttr = MemAttr.Encode(MemoryType.DeviceNGnRE, fwb);
        _current = default;
        _open = false;
    }

    public void OnLeaf(in LeafEntry leaf)
    {
        _final.Leaves[leaf.Level]++;
        _final.MappedBytes[leaf.Level] += leaf.SizeBytes;
        Extend(leaf.Ipa, leaf.Level, leaf.SizeBytes, leaf.Descriptor.MemAttrField == _deviceAttr, 1);
    }

    public void OnPages(ulong ipa, ulong pageBytes, ReadOnlySpan<ulong> entries)
    {
        const int level = Granule.LastLevel;
        _final.Leaves[level] += entries.Length;
        _final.MappedBytes[level] += (ulong)entries.Length * pageBytes;
        ulong devicePattern = (ulong)_deviceAttr << Descriptor.MemAttrShift;
        int idx = 0;
        while (idx < entries.Length)
        {
            bool device = (entries[idx] & Descriptor.MemAttrMask) == devicePattern;
            int pages = SameTypePrefix(entries[idx..], devicePattern, device);
            Extend(ipa + (ulong)idx * pageBytes, level, pageBytes, device, pages);
            idx += pages;
        }
    }

    public void Flush()
    {
        if (_open)
            _final.Runs.Add(_current);
        _open = false;
    }

    /// <summary><paramref name="leaves"/> consecutive leaves of one level and type from <paramref name="ipa"/>.</summary>
    private void Extend(ulong ipa, int level, ulong leafBytes, bool device, long leaves)
    {
        ulong end = ipa + (ulong)leaves * leafBytes;
        if (_open && _current.EndIpa == ipa && _current.Level == level && _current.Device == device)
        {
            _current = _current with { EndIpa = end, Leaves = _current.Leaves + leaves };
            return;
        }
        Flush();
        _current = new LeafRun(ipa, end, level, leafBytes, device, leaves);
        _open = true;
    }

    /// <summary>How many entries from the first are device memory (or, with device false, are not).</summary>
    private static int SameTypePrefix(ReadOnlySpan<ulong> entries, ulong devicePattern, bool device)
    {
        int idx = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var mask = new Vector<ulong>(Descriptor.MemAttrMask);
            var pattern = new Vector<ulong>(devicePattern);
            Vector<ulong> all = device ? Vector<ulong>.AllBitsSet : Vector<ulong>.Zero;
            for (; idx + Vector<ulong>.Count <= entries.Length; idx += Vector<ulong>.Count)
            {
                Vector<ulong> isDevice = Vector.Equals(new Vector<ulong>(entries[idx..]) & mask, pattern);
                if (isDevice != all)
                    break;
            }
        }
        while (idx < entries.Length && ((entries[idx] & Descriptor.MemAttrMask) == devicePattern) == device)
            idx++;
        return idx;
    }
}

/// <summary>Counts leaves per level (the shadow stage 2 of an L2 guest).</summary>
internal readonly struct LeafLevelCounter(long[] leaves) : IPageLeavesSink
{
    public long[] Leaves => leaves;

    public void OnLeaf(in LeafEntry leaf) => leaves[leaf.Level]++;

    public void OnPages(ulong ipa, ulong pageBytes, ReadOnlySpan<ulong> entries) => leaves[Granule.LastLevel] += entries.Length;
}
