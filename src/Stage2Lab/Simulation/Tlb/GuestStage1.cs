using System.Runtime.CompilerServices;
using Stage2Lab.Arch;

namespace Stage2Lab.Simulation.Tlb;

/// <summary>
/// The guest's own translation (stage 1): granule, VA size and the regions it maps linearly (see
/// <see cref="GuestRegion"/>), plus where its translation tables sit in IPA space, so that a nested walk can
/// translate every table address through the real stage-2 table.
/// <para>
/// Levels follow VMSAv8-64: <c>levels = ceil((vaBits - PAGE_SHIFT) / (PAGE_SHIFT - 3))</c>, start level
/// <c>4 - levels</c> (4K/48 bits: 4 levels; 4K/39: 3; 64K/48: 3; 64K/42: 2). A VA is either in the low half
/// (TTBR0, below 2^vaBits) or the high half (TTBR1, at or above 2^64 - 2^vaBits), each with its own root table.
/// </para>
/// <para>
/// Table placement: every table the regions need is given one granule-sized page, packed in walk order from
/// <see cref="TablesIpa"/>: the roots, then the tables of each next level in VA order (tables two regions share
/// are shared). A guest kernel's boot-time allocator lays out its linear-map tables much like this.
/// </para>
/// </summary>
public sealed class GuestStage1
{
    public const int MinVaBits = 25;
    public const int MaxVaBits = 48;
    public const int MaxRegions = 64;

    private readonly RegionInfo[] _regions;
    private readonly int[] _prefixShifts = new int[Granule.LastLevel + 1];
    private readonly ulong _vaMask;
    private readonly int _pageShift;
    private readonly bool[] _ipaShadowed;
    private int _lastVaHit;
    private int _lastIpaHit;

    private GuestStage1(Granule granule, int vaBits, GuestRegion[] regions, ulong tablesIpa)
    {
        Granule = granule;
        VaBits = vaBits;
        Levels = LevelsFor(granule, vaBits);
        StartLevel = Granule.LastLevel + 1 - Levels;
        Regions = regions;
        TablesIpa = tablesIpa;
        _regions = new RegionInfo[regions.Length];
        _vaMask = (1UL << vaBits) - 1;
        _pageShift = granule.PageShift;
        for (int level = StartLevel; level <= Granule.LastLevel; level++)
            _prefixShifts[level] = TablePrefixShift(level);
        TablePages = Layout(regions);
        _ipaShadowed = new bool[regions.Length];
        for (int i = 0; i < regions.Length; i++)
        {
            for (int j = 0; j < i; j++)
                _ipaShadowed[i] |= regions[i].Ipa < regions[j].IpaEnd && regions[j].Ipa < regions[i].IpaEnd;
        }
    }

    public Granule Granule { get; }

    public int VaBits { get; }

    /// <summary>Stage-1 levels a full walk reads (n in the nested-walk formula).</summary>
    public int Levels { get; }

    public int StartLevel { get; }

    public IReadOnlyList<GuestRegion> Regions { get; }

    /// <summary>The IPA of the first table page.</summary>
    public ulong TablesIpa { get; }

    /// <summary>Table pages the regions need (roots included).</summary>
    public long TablePages { get; }

    public ulong TablesEndIpa => TablesIpa + (ulong)TablePages * Granule.PageSize;

    /// <summary>ceil((vaBits - PAGE_SHIFT) / (PAGE_SHIFT - 3)).</summary>
    public static int LevelsFor(Granule granule, int vaBits) =>
        (vaBits - granule.PageShift + granule.BitsPerLevel - 1) / granule.BitsPerLevel;

    /// <summary>Everything wrong with a description, each with the region and field it is about.</summary>
    public static List<GuestProblem> Check(Granule granule, int vaBits, IReadOnlyList<GuestRegion> regions, ulong tablesIpa, int ipaBits)
    {
        var problems = new List<GuestProblem>();
        if (vaBits < MinVaBits || vaBits > MaxVaBits)
        {
            problems.Add(new(-1, "va-bits", $"{vaBits} VA bits is out of range; expected {MinVaBits}..{MaxVaBits} (T0SZ 16..39, no FEAT_LVA)"));
            return problems;
        }
        if (regions.Count > MaxRegions)
            problems.Add(new(-1, "regions", $"{regions.Count} regions; at most {MaxRegions} are modelled"));
        ulong ipaLimit = 1UL << ipaBits;
        int startLevel = Granule.LastLevel + 1 - LevelsFor(granule, vaBits);
        for (int i = 0; i < regions.Count; i++)
        {
            GuestRegion r = regions[i];
            if (!r.Mapping.IsValidFor(granule))
            {
                problems.Add(new(i, "mapping", $"'{r.Mapping.Name()}' needs a 4K granule (level-1 blocks with {granule.Name} need FEAT_LPA2); use thp or contiguous-thp"));
                continue;
            }
            if (r.Mapping.LeafLevel() < startLevel)
            {
                problems.Add(new(i, "mapping", $"'{r.Mapping.Name()}' leaves sit at level {r.Mapping.LeafLevel()}, above the start level {startLevel} of a {vaBits}-bit {granule.Name} stage 1; use more va-bits or smaller leaves"));
                continue;
            }
            ulong span = 1UL << r.Mapping.EntryShift(granule);
            if (r.SizeBytes == 0 || r.SizeBytes % span != 0)
                problems.Add(new(i, "size", $"size {SizeText.Format(r.SizeBytes)} must be a non-zero multiple of {SizeText.Format(span)} (one '{r.Mapping.Name()}' entry with a {granule.Name} granule)"));
            if (r.Va % span != 0)
                problems.Add(new(i, "va", $"va {SizeText.Hex(r.Va)} must be aligned to {SizeText.Format(span)} for '{r.Mapping.Name()}'"));
            if (r.Ipa % span != 0)
                problems.Add(new(i, "ipa", $"ipa {SizeText.Hex(r.Ipa)} must be aligned to {SizeText.Format(span)} for '{r.Mapping.Name()}'"));
            if (r.SizeBytes != 0 && !InOneHalf(r.Va, r.SizeBytes, vaBits))
                problems.Add(new(i, "va", $"[{SizeText.Hex(r.Va)}, +{SizeText.Format(r.SizeBytes)}) must lie below 2^{vaBits} (TTBR0) or at or above 2^64 - 2^{vaBits} (TTBR1)"));
            if (r.Ipa >= ipaLimit || r.SizeBytes > ipaLimit - r.Ipa)
                problems.Add(new(i, "ipa", $"[{SizeText.Hex(r.Ipa)}, +{SizeText.Format(r.SizeBytes)}) must end within the VM's {ipaBits}-bit IPA space"));
            for (int j = 0; j < i; j++)
            {
                GuestRegion o = regions[j];
                if (r.Va < o.VaEnd && o.Va < r.VaEnd && r.SizeBytes != 0 && o.SizeBytes != 0)
                    problems.Add(new(i, "va", $"VA range overlaps region '{o.Name}' ({SizeText.Hex(o.Va)}, +{SizeText.Format(o.SizeBytes)}); each VA has one translation"));
            }
        }
        if (tablesIpa % granule.PageSize != 0)
            problems.Add(new(-1, "tables-ipa", $"tables-ipa {SizeText.Hex(tablesIpa)} must be aligned to the {granule.Name} granule"));
        if (problems.Count == 0)
        {
            var probe = new GuestStage1(granule, vaBits, regions.ToArray(), tablesIpa);
            if (probe.TablesEndIpa > ipaLimit || probe.TablesEndIpa < tablesIpa)
                problems.Add(new(-1, "tables-ipa", $"the {probe.TablePages} table pages from {SizeText.Hex(tablesIpa)} ({SizeText.Format((ulong)probe.TablePages * granule.PageSize)}) do not fit below 2^{ipaBits}; put them lower"));
        }
        return problems;
    }

    /// <summary>A checked description; throws <see cref="ArgumentException"/> naming the first problem.</summary>
    public static GuestStage1 Create(Granule granule, int vaBits, IReadOnlyList<GuestRegion> regions, ulong tablesIpa, int ipaBits)
    {
        List<GuestProblem> problems = Check(granule, vaBits, regions, tablesIpa, ipaBits);
        if (problems.Count > 0)
        {
            GuestProblem p = problems[0];
            string where = p.RegionIndex >= 0 ? $"regions[{p.RegionIndex}].{p.Field}" : p.Field;
            throw new ArgumentException($"guest stage 1: {where}: {p.Message}");
        }
        return new GuestStage1(granule, vaBits, regions.ToArray(), tablesIpa);
    }

    /// <summary>
    /// The default guest: each IPA range mapped at VA = IPA with <paramref name="mapping"/> leaves where the range
    /// is aligned to them and pages in the unaligned head and tail (as Linux builds its linear map); tables from
    /// the first range's IPA unless <paramref name="tablesIpa"/> is given. Ranges beyond the IPA space (slots KVM
    /// refuses) are left out; a range beyond 2^vaBits is an error (VA = IPA cannot hold it).
    /// </summary>
    public static GuestStage1 Identity(Granule granule, int vaBits, IEnumerable<(ulong Ipa, ulong SizeBytes)> ranges, int ipaBits,
        GuestMapping mapping = GuestMapping.Pages, ulong? tablesIpa = null)
    {
        var spans = new List<(ulong Start, ulong End)>();
        ulong ipaLimit = 1UL << ipaBits;
        foreach (var (ipa, size) in ranges)
        {
            // A slot beyond the IPA space is one KVM refuses (KVM_SET_USER_MEMORY_REGION: -EINVAL): no guest
            // access reaches it, so the guest maps nothing there.
            if (ipa >= ipaLimit)
                continue;
            ulong page = granule.PageSize;
            ulong start = (ipa + page - 1) & ~(page - 1);
            ulong end = Math.Min(size > ipaLimit - ipa ? ipaLimit : ipa + size, ipaLimit) & ~(page - 1);
            if (end > start)
                spans.Add((start, end));
        }
        ulong defaultTables = spans.Count > 0 ? spans[0].Start : 0;
        // Each span may become a head, a body and a tail.
        int maxSpans = mapping == GuestMapping.Pages ? MaxRegions : MaxRegions / 3;
        if (spans.Count > maxSpans)
            spans = Coalesce(spans, maxSpans);

        var regions = new List<GuestRegion>();
        foreach (var (start, end) in spans)
        {
            ulong span = 1UL << mapping.EntryShift(granule);
            ulong bodyStart = Math.Min((start + span - 1) & ~(span - 1), end);
            ulong bodyEnd = Math.Max(end & ~(span - 1), bodyStart);
            string name = $"identity@{SizeText.Hex(start)}";
            if (mapping != GuestMapping.Pages && bodyEnd > bodyStart)
            {
                Add(regions, name + "-head", start, bodyStart, GuestMapping.Pages);
                Add(regions, name, bodyStart, bodyEnd, mapping);
                Add(regions, name + "-tail", bodyEnd, end, GuestMapping.Pages);
            }
            else
            {
                Add(regions, name, start, end, GuestMapping.Pages);
            }
        }
        ulong tables = tablesIpa ?? defaultTables;
        return Create(granule, vaBits, regions, tables, ipaBits);

        static void Add(List<GuestRegion> into, string name, ulong start, ulong end, GuestMapping m)
        {
            if (end > start)
                into.Add(new GuestRegion(name, start, start, end - start, m));
        }
    }

    /// <summary>
    /// More memslot ranges than the model keeps regions (thousands of small slots): the ranges are sorted and the
    /// closest neighbours merged, gap included, until <paramref name="maxSpans"/> remain. A guest access never
    /// lands in a gap (no memslot is there), so only the stage-1 table layout notices. O(n log n).
    /// </summary>
    private static List<(ulong Start, ulong End)> Coalesce(List<(ulong Start, ulong End)> spans, int maxSpans)
    {
        var sorted = spans.OrderBy(s => s.Start).ToList();
        var gaps = new ulong[sorted.Count - 1];
        for (int i = 0; i < gaps.Length; i++)
            gaps[i] = sorted[i + 1].Start > sorted[i].End ? sorted[i + 1].Start - sorted[i].End : 0;
        ulong[] order = [.. gaps];
        Array.Sort(order);
        // Merge every gap below the threshold, and gaps equal to it (leftmost first) until few enough remain.
        int merges = sorted.Count - maxSpans;
        ulong threshold = order[merges - 1];
        int atThreshold = merges - Array.IndexOf(order, threshold); // sorted: the index counts the smaller gaps
        var merged = new List<(ulong Start, ulong End)> { sorted[0] };
        for (int i = 1; i < sorted.Count; i++)
        {
            ulong gap = gaps[i - 1];
            bool merge = gap < threshold || (gap == threshold && atThreshold-- > 0);
            if (merge)
                merged[^1] = (merged[^1].Start, Math.Max(merged[^1].End, sorted[i].End));
            else
                merged.Add(sorted[i]);
        }
        return merged;
    }

    // ---- lookups the walk uses ----

    /// <summary>The region whose VA range holds <paramref name="va"/>, or -1 (regions never overlap in VA, so
    /// remembering the last hit cannot change the answer).</summary>
    public int FindVa(ulong va)
    {
        RegionInfo[] regions = _regions;
        int last = _lastVaHit;
        if ((uint)last < (uint)regions.Length && va - regions[last].Va < regions[last].SizeBytes)
            return last;
        for (int i = 0; i < regions.Length; i++)
        {
            if (va - regions[i].Va < regions[i].SizeBytes)
            {
                _lastVaHit = i;
                return i;
            }
        }
        return -1;
    }

    /// <summary>The first region (in scenario order) whose IPA range holds <paramref name="ipa"/>, and the VA the
    /// guest reaches it by; -1 when no region maps it.</summary>
    public int FindIpa(ulong ipa, out ulong va)
    {
        RegionInfo[] regions = _regions;
        int last = _lastIpaHit;
        // The last answer is only reused when no earlier region shares IPAs with it: an address it holds is then in
        // no earlier region, so it is still the first (scenario order) that holds it.
        if ((uint)last < (uint)regions.Length && !_ipaShadowed[last] && ipa - regions[last].Ipa < regions[last].SizeBytes)
        {
            va = regions[last].Va + (ipa - regions[last].Ipa);
            return last;
        }
        for (int i = 0; i < regions.Length; i++)
        {
            if (ipa - regions[i].Ipa < regions[i].SizeBytes)
            {
                _lastIpaHit = i;
                va = regions[i].Va + (ipa - regions[i].Ipa);
                return i;
            }
        }
        va = 0;
        return -1;
    }

    /// <summary>Stage-1 translation of <paramref name="va"/> (false: no region maps it, a stage-1 fault).</summary>
    public bool TryTranslate(ulong va, out ulong ipa)
    {
        int r = FindVa(va);
        ipa = r < 0 ? 0 : _regions[r].Ipa + (va - _regions[r].Va);
        return r >= 0;
    }

    internal ref readonly RegionInfo Region(int index) => ref _regions[index];

    /// <summary>The IPA of the level-<paramref name="level"/> table a walk of <paramref name="va"/> reads
    /// (region <paramref name="region"/>, start level ≤ level ≤ its leaf level).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong TableIpa(int region, int level, ulong va) => TableIpa(in _regions[region], level, va);

    /// <summary><see cref="TableIpa(int, int, ulong)"/> for a region the caller already holds (the walk's hot
    /// path), the level's prefix shift read from a table.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong TableIpa(in RegionInfo r, int level, ulong va)
    {
        long index = r.TableOffset[level] + (long)(Canonical(va) >> _prefixShifts[level]);
        return TablesIpa + ((ulong)index << _pageShift);
    }

    /// <summary>
    /// A VA with the TTBR1 half folded to one bit above the low vaBits: <c>va mod 2^vaBits</c>, plus 2^vaBits for
    /// the high half. Tables are indexed by it, so the two halves get separate roots.
    /// </summary>
    private ulong Canonical(ulong va) => (va & _vaMask) | ((va >> 63) << VaBits);

    /// <summary>How far to shift a canonical VA to name the level-<paramref name="level"/> table holding it: one
    /// table per span of a level-(level-1) entry; one root per half at the start level.</summary>
    private int TablePrefixShift(int level) => level == StartLevel ? VaBits : Granule.LevelShift(level - 1);

    private static bool InOneHalf(ulong va, ulong size, int vaBits)
    {
        ulong half = 1UL << vaBits;
        if (va < half)
            return size <= half - va;
        ulong highStart = 0UL - half;
        return va >= highStart && size - 1 <= ulong.MaxValue - va;
    }

    private long Layout(GuestRegion[] regions)
    {
        for (int i = 0; i < regions.Length; i++)
        {
            GuestRegion g = regions[i];
            _regions[i] = new RegionInfo
            {
                Va = g.Va,
                Ipa = g.Ipa,
                SizeBytes = g.SizeBytes,
                LeafLevel = g.Mapping.LeafLevel(),
                EntryShift = g.Mapping.EntryShift(Granule),
            };
        }
        long next = 0;
        for (int level = StartLevel; level <= Granule.LastLevel; level++)
        {
            int shift = TablePrefixShift(level);
            // The prefixes (tables) each region needs at this level, merged where regions share tables.
            var spans = new List<(ulong First, ulong Last, int Region)>();
            for (int i = 0; i < regions.Length; i++)
            {
                if (_regions[i].LeafLevel < level)
                    continue;
                ulong first = Canonical(regions[i].Va) >> shift;
                ulong last = Canonical(regions[i].Va + (regions[i].SizeBytes - 1)) >> shift;
                spans.Add((first, last, i));
            }
            spans.Sort((a, b) => a.First.CompareTo(b.First));
            ulong runFirst = 0, runLast = 0;
            long runBase = 0;
            bool open = false;
            foreach (var (first, last, region) in spans)
            {
                if (!open || first > runLast)
                {
                    if (open)
                        next = runBase + (long)(runLast - runFirst) + 1;
                    runFirst = first;
                    runLast = last;
                    runBase = next;
                    open = true;
                }
                else
                {
                    runLast = Math.Max(runLast, last);
                }
                _regions[region].TableOffset[level] = runBase - (long)runFirst;
            }
            if (open)
                next = runBase + (long)(runLast - runFirst) + 1;
        }
        return next;
    }

    [InlineArray(Granule.LastLevel + 1)]
    internal struct LevelOffsets
    {
        private long _element0;
    }

    /// <summary>A region as the walk needs it.</summary>
    internal struct RegionInfo
    {
        public ulong Va;
        public ulong Ipa;
        public ulong SizeBytes;
        public int LeafLevel;
        /// <summary>log2 of what one TLB entry for this region may cover (leaf size × contiguous run).</summary>
        public int EntryShift;
        /// <summary>Per level: table index = offset + (canonical VA >> prefix shift).</summary>
        public LevelOffsets TableOffset;
    }
}
