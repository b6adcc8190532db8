using System.Text;
using Stage2Lab.Arch;
using Stage2Lab.Simulation.Invariants;
using Stage2Lab.Simulation.Runs;

namespace Stage2Lab.Reports;

/// <summary>
/// The IPA map: per policy, one band per memslot drawn to scale over an address axis, every stage-2 leaf at the
/// end of the timeline coloured by its size (paler where only part of a column is mapped), the VMAs behind the
/// slot on a lane beneath with their edges carried across the leaves, parts of the slot with no VMA in red, and
/// every leaf an invariant violation names outlined in red. Leaves outside every memslot get a band of their own.
/// </summary>
internal sealed class IpaMapSection : IReportSection
{
    private const int Width = 1000, LabelHeight = 18, LeafHeight = 22, VmaHeight = 8, AxisHeight = 18, Gap = 14;

    /// <summary>
    /// Memslot bands drawn per policy. A VM of thousands of slots would make a map nobody reads (16,000 slots made
    /// a 25 MB page), so past this many the largest are drawn and the rest named in a note.
    /// </summary>
    internal const int MaxBands = 48;

    private readonly record struct Band(string Label, ulong Start, ulong End, SlotSnapshot? Slot);

    public void Append(StringBuilder html, ScenarioResult result)
    {
        html.Append("<h2 id=\"ipa-map\">IPA map</h2>\n<p class=\"note\">Each memslot on its own line, to scale, with its IPA range on the axis below it; every stage-2 leaf at the end of the timeline coloured by its size. Beneath the leaves, the VMAs backing the slot (grey; dashed lines mark their edges across the leaves); red marks a part of the slot with no VMA behind it, and outlines a leaf that breaks an invariant.</p>\n");
        Granule g = result.Runs[0].Granule;
        html.Append("<p class=\"legend\">");
        for (int level = g.MinBlockLevel; level <= Granule.LastLevel; level++)
            html.Append($"<span><i class=\"sw\" style=\"background:{Html.LevelColours[level]}\"></i>{SizeText.Format(g.LevelSize(level))} {(level == Granule.LastLevel ? "pages" : "blocks")}</span>");
        html.Append("<span><i class=\"sw\" style=\"background:#f3f3f3;border:1px solid #999\"></i>not mapped</span>");
        html.Append("<span><i class=\"sw\" style=\"background:#bbb\"></i>VMA</span>");
        html.Append($"<span><i class=\"sw\" style=\"border:2px solid {Html.Problem}\"></i>no VMA / violating leaf</span></p>\n");
        foreach (PolicyRun run in result.Runs)
        {
            html.Append("<h3>").Append(Html.E(run.Policy)).Append("</h3>\n<p class=\"note\">").Append(Html.E(run.Description))
                .Append(". At the end: ").Append(Html.E(RunTables.FinalLeaves(run))).Append(".</p>\n");
            Map(html, run);
        }
    }

    private static void Map(StringBuilder html, PolicyRun run)
    {
        SlotSnapshot[] slots = [.. run.Final.Memslots.OrderBy(m => m.Ipa)];
        SlotSnapshot[] drawn = slots.Length <= MaxBands
            ? slots
            : [.. slots.OrderByDescending(m => m.SizeBytes).ThenBy(m => m.Ipa).Take(MaxBands).OrderBy(m => m.Ipa)];
        var bands = drawn
            .Select(m => new Band($"slot {m.Id}: IPA {Format.Hex(m.Ipa)} +{SizeText.Format(m.SizeBytes)} ({m.Backing})", m.Ipa, m.Ipa + m.SizeBytes, m))
            .ToList();
        var outside = run.Final.Runs.Where(r => !InSomeSlot(r, slots)).ToList();
        if (outside.Count > 0)
            bands.Add(new Band("outside every memslot", outside.Min(r => r.Ipa), outside.Max(r => r.EndIpa), null));
        int bandHeight = LabelHeight + LeafHeight + 2 + VmaHeight + AxisHeight + Gap;
        int height = Math.Max(1, bands.Count) * bandHeight + 4;
        html.Append($"<svg class=\"ipa-map\" data-policy=\"{Html.E(run.Policy)}\" viewBox=\"0 0 {Width} {height}\" width=\"{Width}\" xmlns=\"http://www.w3.org/2000/svg\">\n");
        int y = 2;
        foreach (Band band in bands)
        {
            Draw(html, run, band, y);
            y += bandHeight;
        }
        html.Append("</svg>\n");
        if (slots.Length > drawn.Length)
        {
            ulong left = 0;
            foreach (SlotSnapshot m in slots)
                left += m.SizeBytes;
            foreach (SlotSnapshot m in drawn)
                left -= m.SizeBytes;
            html.Append("<p class=\"note\">").Append(Html.E($"Not drawn: {Format.Count(slots.Length - drawn.Length)} smaller memslots ({Format.Bytes(left)} in all); the {MaxBands} largest of the {Format.Count(slots.Length)} are above.")).Append("</p>\n");
        }
    }

    /// <summary>Whether a leaf run overlaps a memslot; <paramref name="slots"/> sorted by IPA (memslots never overlap).</summary>
    internal static bool InSomeSlot(LeafRun leaves, SlotSnapshot[] slots)
    {
        // The last slot starting below the run's end: if it does not reach the run, no earlier one does.
        int lo = 0, hi = slots.Length - 1, last = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (slots[mid].Ipa < leaves.EndIpa)
            {
                last = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return last >= 0 && slots[last].Ipa + slots[last].SizeBytes > leaves.Ipa;
    }

    private static void Draw(StringBuilder html, PolicyRun run, Band band, int top)
    {
        double span = band.End - band.Start;
        double X(ulong ipa) => Math.Clamp((ipa - (double)band.Start) / span * Width, 0, Width);
        html.Append($"<text x=\"0\" y=\"{top + 13}\" font-size=\"13\">{Html.E(band.Label)}</text>\n");
        int leafTop = top + LabelHeight;
        html.Append($"<rect class=\"slot\" x=\"0\" y=\"{leafTop}\" width=\"{Width}\" height=\"{LeafHeight}\" fill=\"#f3f3f3\" stroke=\"#999\"/>\n");
        Leaves(html, run, band, leafTop);
        int vmaTop = leafTop + LeafHeight + 2;
        if (band.Slot is { } slot)
            Vmas(html, run, slot, vmaTop, leafTop, X);
        // The memslot's own edges.
        html.Append($"<line class=\"slot-edge\" x1=\"0.5\" y1=\"{leafTop - 2}\" x2=\"0.5\" y2=\"{vmaTop + VmaHeight}\" stroke=\"#222\" stroke-width=\"2\"/>");
        html.Append($"<line class=\"slot-edge\" x1=\"{Width - 0.5}\" y1=\"{leafTop - 2}\" x2=\"{Width - 0.5}\" y2=\"{vmaTop + VmaHeight}\" stroke=\"#222\" stroke-width=\"2\"/>\n");
        foreach (InvariantViolation v in run.Violations)
        {
            if (v.Leaf is not { } leaf || leaf.Ipa >= band.End || leaf.Ipa + leaf.SizeBytes <= band.Start)
                continue;
            double x0 = X(leaf.Ipa), x1 = Math.Max(X(leaf.Ipa + leaf.SizeBytes), x0 + 3);
            html.Append($"<rect class=\"violation\" x=\"{Html.N(x0 + 1)}\" y=\"{leafTop + 1}\" width=\"{Html.N(Math.Max(1, x1 - x0 - 2))}\" height=\"{LeafHeight - 2}\" fill=\"none\" stroke=\"{Html.Problem}\" stroke-width=\"2.5\"><title>{Html.E(v.Kind.ToString())}: {Html.E(v.Message)}</title></rect>\n");
        }
        Axis(html, band, vmaTop + VmaHeight + 2);
    }

    /// <summary>Leaves downsampled to one colour per unit column (the size covering most bytes there), so a
    /// million 4K leaves cost as much as a handful; the opacity says how much of the column is mapped.</summary>
    private static void Leaves(StringBuilder html, PolicyRun run, Band band, int leafTop)
    {
        double span = band.End - band.Start;
        var cover = new double[Width, 4];
        foreach (LeafRun leafRun in run.Final.Runs)
        {
            ulong s = Math.Max(leafRun.Ipa, band.Start), e = Math.Min(leafRun.EndIpa, band.End);
            if (s >= e)
                continue;
            double x0 = (s - band.Start) / span * Width, x1 = (e - band.Start) / span * Width;
            for (int px = (int)x0; px < Math.Min(Width, (int)Math.Ceiling(x1)); px++)
                cover[px, leafRun.Level] += Math.Max(Math.Min(x1, px + 1) - Math.Max(x0, px), 0);
        }
        int start = -1, level = -1, shade = -1;
        for (int px = 0; px <= Width; px++)
        {
            int best = -1, bestShade = -1;
            if (px < Width)
            {
                double bestCover = 0.0, total = 0.0;
                for (int l = 0; l < 4; l++)
                {
                    total += cover[px, l];
                    if (cover[px, l] > bestCover)
                    {
                        bestCover = cover[px, l];
                        best = l;
                    }
                }
                bestShade = total >= 0.99 ? 3 : total >= 0.5 ? 2 : total >= 0.1 ? 1 : 0;
            }
            if (best == level && bestShade == shade)
                continue;
            if (level >= 0)
            {
                string opacity = shade switch { 3 => "1", 2 => "0.7", 1 => "0.45", _ => "0.25" };
                html.Append($"<rect class=\"leaf\" data-size=\"{SizeText.Format(run.Granule.LevelSize(level))}\" x=\"{start}\" y=\"{leafTop}\" width=\"{px - start}\" height=\"{LeafHeight}\" fill=\"{Html.LevelColours[level]}\" fill-opacity=\"{opacity}\"><title>{SizeText.Format(run.Granule.LevelSize(level))} leaves</title></rect>\n");
            }
            start = px;
            level = best;
            shade = bestShade;
        }
    }

    /// <summary>
    /// The VMAs behind the slot's HVA range, at the IPAs they back; the gaps in red; edges across the leaves.
    /// Adjacent VMAs narrower than a pixel are drawn as one rectangle (its title says how many) without edges, an
    /// edge within a pixel of the last one drawn is left out, and so is a gap inside the last red mark, so that a
    /// slot over 30,000 small VMAs costs about a thousand shapes, not 90,000 (a 12 MB page before).
    /// </summary>
    private static void Vmas(StringBuilder html, PolicyRun run, SlotSnapshot slot, int vmaTop, int leafTop, Func<ulong, double> x)
    {
        ulong hvaEnd = slot.Hva + slot.SizeBytes;
        var covered = run.Final.Vmas
            .Where(v => v.Start < hvaEnd && slot.Hva < v.End)
            .Select(v => (Start: Math.Max(v.Start, slot.Hva), End: Math.Min(v.End, hvaEnd), v.Name))
            .OrderBy(v => v.Start)
            .ToList();
        ulong Ipa(ulong hva) => slot.Ipa + (hva - slot.Hva);
        var lane = new VmaLane(html, vmaTop, leafTop);
        ulong at = slot.Hva;
        foreach (var (start, end, name) in covered)
        {
            if (start > at)
                lane.Gap(x(Ipa(at)), x(Ipa(start)), at, start);
            lane.Vma(x(Ipa(start)), x(Ipa(end)), start, end, name);
            at = Math.Max(at, end);
        }
        if (at < hvaEnd)
            lane.Gap(x(Ipa(at)), x(Ipa(hvaEnd)), at, hvaEnd);
        lane.Flush();
    }

    /// <summary>Draws a slot's VMA lane left to right, merging what a pixel cannot tell apart.</summary>
    private sealed class VmaLane(StringBuilder html, int vmaTop, int leafTop)
    {
        private double _x0, _x1, _lastEdge = double.NegativeInfinity, _lastGapEnd = double.NegativeInfinity;
        private ulong _start, _end;
        private string _name = "";
        private int _count;

        public void Vma(double x0, double x1, ulong start, ulong end, string name)
        {
            // Merge into the pending rectangle while it is narrower than a pixel and this VMA continues it.
            if (_count > 0 && start == _end && _x1 - _x0 < 1)
            {
                _x1 = x1;
                _end = end;
                _count++;
                return;
            }
            Flush();
            (_x0, _x1, _start, _end, _name, _count) = (x0, x1, start, end, name, 1);
        }

        public void Gap(double x0, double x1, ulong hvaStart, ulong hvaEnd)
        {
            Flush();
            if (x0 < _lastGapEnd)
                return;
            double width = Math.Max(3, x1 - x0);
            html.Append($"<rect class=\"no-vma\" x=\"{Html.N(x0)}\" y=\"{vmaTop}\" width=\"{Html.N(width)}\" height=\"{VmaHeight}\" fill=\"{Html.Problem}\"><title>no VMA at HVA [{Format.Hex(hvaStart)}, {Format.Hex(hvaEnd)})</title></rect>\n");
            _lastGapEnd = x0 + width;
        }

        public void Flush()
        {
            if (_count == 0)
                return;
            string title = _count == 1
                ? $"VMA {Html.E(_name)} [{Format.Hex(_start)}, {Format.Hex(_end)})"
                : $"{Format.Count(_count)} VMAs [{Format.Hex(_start)}, {Format.Hex(_end)})";
            html.Append($"<rect class=\"vma\" x=\"{Html.N(_x0)}\" y=\"{vmaTop}\" width=\"{Html.N(Math.Max(1, _x1 - _x0))}\" height=\"{VmaHeight}\" fill=\"#bbb\" stroke=\"#fff\" stroke-width=\"0.5\"><title>{title}</title></rect>\n");
            // Edges only around a VMA drawn alone: between VMAs a pixel cannot tell apart they would hide the leaves.
            foreach (double edge in _count == 1 ? [_x0, _x1] : Array.Empty<double>())
            {
                if (edge > 0.5 && edge < Width - 0.5 && Math.Abs(edge - _lastEdge) >= 1)
                {
                    html.Append($"<line class=\"vma-edge\" x1=\"{Html.N(edge)}\" y1=\"{leafTop}\" x2=\"{Html.N(edge)}\" y2=\"{vmaTop + VmaHeight}\" stroke=\"#111\" stroke-width=\"1\" stroke-dasharray=\"3 2\"/>\n");
                    _lastEdge = edge;
                }
            }
            _count = 0;
        }
    }

    /// <summary>Five ticks with the IPA at each (the ends aligned inward so that no label leaves the map).</summary>
    private static void Axis(StringBuilder html, Band band, int axisTop)
    {
        const int ticks = 4;
        for (int i = 0; i <= ticks; i++)
        {
            double fraction = (double)i / ticks;
            ulong ipa = band.Start + (ulong)((band.End - band.Start) * fraction);
            double x = fraction * Width;
            string anchor = i == 0 ? "start" : i == ticks ? "end" : "middle";
            html.Append($"<line class=\"tick\" x1=\"{Html.N(Math.Clamp(x, 0.5, Width - 0.5))}\" y1=\"{axisTop}\" x2=\"{Html.N(Math.Clamp(x, 0.5, Width - 0.5))}\" y2=\"{axisTop + 4}\" stroke=\"#666\"/>");
            html.Append($"<text class=\"axis-label\" x=\"{Html.N(x)}\" y=\"{axisTop + 15}\" font-size=\"12\" text-anchor=\"{anchor}\">{Format.Hex(ipa)}</text>\n");
        }
    }
}
