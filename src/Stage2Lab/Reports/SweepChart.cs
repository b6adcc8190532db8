using System.Globalization;
using System.Text;
using Stage2Lab.Simulation.Campaigns;
using Stage2Lab.Simulation.Sweeps;

namespace Stage2Lab.Reports;

/// <summary>
/// A line chart of one sweep metric against one varied key: a line per policy (and per value of the other varied
/// keys, told apart by dashes), hand-made SVG with axes in the key's notation (hex for addresses, sizes for sizes)
/// and the metric's unit, and a legend. As an HTML page it is the same SVG in a self-contained page (no script,
/// no network).
/// </summary>
public static class SweepChart
{
    private const int Width = 960, Height = 520, Left = 96, Right = 300, Top = 48, Bottom = 78;
    private const int PlotWidth = Width - Left - Right, PlotHeight = Height - Top - Bottom;

    /// <summary>Most lines one chart draws; more is unreadable (plot fewer values of the other keys).</summary>
    public const int MaxSeries = 40;

    private static readonly string[] Dashes = ["", "7 4", "2 3", "10 3 2 3", "4 4"];

    /// <summary>How many lines a chart of <paramref name="xKey"/> would draw, before anything runs.</summary>
    public static long SeriesCount(IReadOnlyList<SweepAxis> axes, int policies, string xKey)
    {
        long n = policies;
        foreach (SweepAxis a in axes.Where(a => a.Key != xKey))
            n *= a.Values.Count;
        return n;
    }

    public static string Html(SweepResult result, string metric, string xKey)
    {
        string title = Title(result, metric, xKey);
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>").Append(Reports.Html.E(title)).Append("</title>\n");
        html.Append("<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}svg{max-width:100%;height:auto}p{color:#555}</style>\n</head>\n<body>\n");
        html.Append("<h1>").Append(Reports.Html.E(result.Scenario)).Append("</h1>\n");
        html.Append("<p>").Append(Reports.Html.E($"{result.Points:N0} points × {result.Policies.Count} policies; file {result.File}")).Append("</p>\n");
        html.Append(Svg(result, metric, xKey));
        html.Append("</body>\n</html>\n");
        return html.ToString();
    }

    public static string Svg(SweepResult result, string metric, string xKey)
    {
        int m = SweepMetrics.IndexOf(metric);
        if (m < 0)
            throw new CampaignException($"--metric '{metric}' is not a sweep metric; expected one of {string.Join(", ", SweepMetrics.All.Select(x => x.Name))}");
        int xAxis = result.Axes.ToList().FindIndex(a => a.Key == xKey);
        if (xAxis < 0)
            throw new CampaignException($"--x '{xKey}' is not a varied key; expected one of {string.Join(", ", result.Axes.Select(a => a.Key))}");
        SweepAxis axis = result.Axes[xAxis];
        SweepMetric unit = SweepMetrics.All[m];

        // x: the value itself for numbers, else the value's position in the list.
        bool numeric = axis.Notation != AxisNotation.Text && axis.Values.All(v => SweepAxis.TryNumber(v, out _));
        double X(string value) => numeric && SweepAxis.TryNumber(value, out ulong n) ? n : axis.Values.ToList().IndexOf(value);
        double xMin = axis.Values.Min(X), xMax = axis.Values.Max(X);
        if (xMax <= xMin)
            xMax = xMin + 1;

        var series = result.Rows
            .GroupBy(r => (r.Policy, Others: string.Join(", ", r.Values.Select((v, i) => (v, i)).Where(p => p.i != xAxis).Select(p => $"{result.Axes[p.i].Key}={p.v}"))))
            .Select(g => (g.Key.Policy, g.Key.Others, Points: g.Select(r => (X: X(r.Values[xAxis]), Y: (double)r.Metrics[m], Text: r.Values[xAxis])).OrderBy(p => p.X).ToList()))
            .ToList();
        if (series.Count > MaxSeries)
            throw new CampaignException($"the chart would draw {series.Count} lines (policies × the other keys' values); at most {MaxSeries}: plot fewer values or policies");
        var others = series.Select(s => s.Others).Distinct().ToList();
        double yMax = series.Count == 0 ? 0 : series.Max(s => s.Points.Count == 0 ? 0 : s.Points.Max(p => p.Y));
        double yStep = NiceStep(yMax <= 0 ? 1 : yMax / 5, binary: unit.Unit == MetricUnit.Bytes);
        double yTop = Math.Max(yStep, Math.Ceiling(yMax / yStep) * yStep);

        double Px(double x) => Left + (x - xMin) / (xMax - xMin) * PlotWidth;
        double Py(double y) => Top + PlotHeight - y / yTop * PlotHeight;
        string Label(double y) => unit.Unit switch
        {
            MetricUnit.Bytes => Format.Bytes(y),
            MetricUnit.Nanoseconds => Format.Duration(y),
            _ => Format.Count((long)Math.Round(y)),
        };

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg class=\"sweep-chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {Width} {Height}\" width=\"{Width}\" height=\"{Height}\" font-family=\"system-ui,sans-serif\">\n");
        svg.Append("<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text class=\"title\" x=\"{Left}\" y=\"24\" font-size=\"16\" font-weight=\"600\">{E(Title(result, metric, xKey))}</text>\n");

        // y grid and labels
        for (double y = 0; y <= yTop + yStep / 2; y += yStep)
        {
            string py = N(Py(y));
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{py}\" x2=\"{Left + PlotWidth}\" y2=\"{py}\" stroke=\"#e3e3e3\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text class=\"tick-label\" x=\"{Left - 6}\" y=\"{N(Py(y) + 4)}\" font-size=\"12\" text-anchor=\"end\">{E(Label(y))}</text>\n");
        }
        // x ticks at the axis's own values, first and last always, as many as fit side by side (about 7 px a
        // character at 12 px, and a gap)
        int widest = axis.Values.Max(v => Short(v, axis.Notation).Length);
        var ticks = TickValues(axis.Values.OrderBy(X).ToList(), Math.Clamp((int)(PlotWidth / (widest * 7.5 + 24)), 2, 9));
        foreach (string t in ticks)
        {
            string px = N(Px(X(t)));
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{px}\" y1=\"{Top + PlotHeight}\" x2=\"{px}\" y2=\"{Top + PlotHeight + 5}\" stroke=\"#444\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text class=\"tick-label\" x=\"{px}\" y=\"{Top + PlotHeight + 20}\" font-size=\"12\" text-anchor=\"middle\">{E(Short(t, axis.Notation))}</text>\n");
        }
        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{PlotWidth}\" height=\"{PlotHeight}\" fill=\"none\" stroke=\"#444\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text class=\"axis-title\" x=\"{Left + PlotWidth / 2}\" y=\"{Height - 30}\" font-size=\"13\" text-anchor=\"middle\">{E(xKey + NotationNote(axis.Notation))}</text>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text class=\"axis-title\" x=\"16\" y=\"{Top + PlotHeight / 2}\" font-size=\"13\" text-anchor=\"middle\" transform=\"rotate(-90 16 {Top + PlotHeight / 2})\">{E($"{unit.Name} ({unit.Description})")}</text>\n");

        // lines: colour by policy, dashes by the other keys' values
        var legend = new StringBuilder();
        int legendY = Top + 4;
        for (int s = 0; s < series.Count; s++)
        {
            var (policy, other, points) = series[s];
            string colour = Reports.Html.PolicyColours[Math.Max(0, result.Policies.ToList().IndexOf(policy)) % Reports.Html.PolicyColours.Length];
            string dash = Dashes[others.IndexOf(other) % Dashes.Length];
            string dashAttr = dash.Length == 0 ? "" : $" stroke-dasharray=\"{dash}\"";
            string name = other.Length == 0 ? policy : $"{policy}, {other}";
            // Policies often agree: each is drawn narrower than the one before, so lines that coincide show as
            // nested stripes of their colours instead of the last one hiding the others.
            string width = N(1.5 + 2.0 * (result.Policies.Count - 1 - Math.Max(0, result.Policies.ToList().IndexOf(policy))));
            svg.Append(CultureInfo.InvariantCulture, $"<polyline class=\"series\" data-policy=\"{E(policy)}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"{width}\" stroke-linejoin=\"round\"{dashAttr} points=\"");
            svg.AppendJoin(' ', points.Select(p => N(Px(p.X)) + "," + N(Py(p.Y))));
            svg.Append("\"/>\n");
            if (points.Count <= 64)
            {
                foreach (var p in points)
                    svg.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{N(Px(p.X))}\" cy=\"{N(Py(p.Y))}\" r=\"3\" fill=\"{colour}\"><title>{E($"{name}: {xKey}={p.Text}: {Label(p.Y)}")}</title></circle>");
                svg.Append('\n');
            }
            int lx = Left + PlotWidth + 16;
            legend.Append(CultureInfo.InvariantCulture, $"<line x1=\"{lx}\" y1=\"{legendY}\" x2=\"{lx + 26}\" y2=\"{legendY}\" stroke=\"{colour}\" stroke-width=\"{width}\"{dashAttr}/>");
            legend.Append(CultureInfo.InvariantCulture, $"<text class=\"legend-label\" x=\"{lx + 32}\" y=\"{legendY + 4}\" font-size=\"12\">{E(name)}</text>\n");
            legendY += 18;
        }
        svg.Append("<g class=\"legend\">\n").Append(legend).Append("</g>\n</svg>\n");
        return svg.ToString();
    }

    private static string Title(SweepResult result, string metric, string xKey) => $"{result.Scenario}: {metric} against {xKey}";

    private static string NotationNote(AxisNotation notation) => notation switch
    {
        AxisNotation.Hex => " (address, hex)",
        AxisNotation.Size => " (bytes)",
        _ => "",
    };

    /// <summary>Tick labels fit: long hex addresses get underscores every four digits (as the scenario writes them).</summary>
    private static string Short(string value, AxisNotation notation)
    {
        if (notation != AxisNotation.Hex || !SweepAxis.TryNumber(value, out ulong n))
            return value;
        string hex = n.ToString("x", CultureInfo.InvariantCulture);
        var grouped = new StringBuilder();
        for (int i = 0; i < hex.Length; i++)
        {
            if (i > 0 && (hex.Length - i) % 4 == 0)
                grouped.Append('_');
            grouped.Append(hex[i]);
        }
        return "0x" + grouped;
    }

    private static List<string> TickValues(List<string> sorted, int most)
    {
        if (sorted.Count <= most)
            return sorted;
        var picks = new SortedSet<int>();
        for (int i = 0; i < most; i++)
            picks.Add((int)Math.Round((double)i * (sorted.Count - 1) / (most - 1)));
        return [.. picks.Select(i => sorted[i])];
    }

    /// <summary>1, 2 or 5 times a power of ten (bytes: a power of two, so ticks read 256 MiB, 1 GiB), at least <paramref name="rough"/>.</summary>
    private static double NiceStep(double rough, bool binary)
    {
        if (binary)
            return Math.Pow(2, Math.Ceiling(Math.Log2(rough)));
        double power = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        foreach (double f in new[] { 1.0, 2.0, 5.0, 10.0 })
        {
            if (f * power >= rough)
                return f * power;
        }
        return 10 * power;
    }

    private static string E(string text) => Reports.Html.E(text);

    private static string N(double value) => value.ToString("0.#", CultureInfo.InvariantCulture);
}
