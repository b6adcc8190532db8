using System.Globalization;
using System.Net;
using System.Text;

namespace Stage2Lab.Reports;

/// <summary>What every HTML section shares: escaping, numbers for SVG, tables, the stylesheet and the palettes.</summary>
internal static class Html
{
    /// <summary>
    /// Leaf sizes on the IPA map: shades of one hue, darker for larger (1G darkest), so that a size is never
    /// mistaken for a policy.
    /// </summary>
    public static readonly string[] LevelColours = ["#08306b", "#08519c", "#4292c6", "#9ecae1"];

    /// <summary>Policies in the charts: hues that are not blue, so that none is mistaken for a leaf size.</summary>
    public static readonly string[] PolicyColours = ["#e6550d", "#31a354", "#756bb1", "#8c564b", "#bcbd22", "#636363", "#e377c2", "#7f3b08"];

    /// <summary>Red marks problems only: a violating leaf, a part of a memslot with no VMA behind it.</summary>
    public const string Problem = "#c00000";

    public const string Style = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1440px;padding:0 1em;color:#222;line-height:1.4}
p,ul,ol,pre,details{max-width:1100px}
h1{font-size:1.6em;margin-bottom:.2em} .subtitle{margin-top:0;color:#444;font-size:1.05em}
h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.9em} td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
td:first-child,th:first-child{text-align:left} tr.section td{border-top:2px solid #ccc}
.note{color:#555;font-size:.85em} pre{background:#f6f8fa;padding:.8em;white-space:pre-wrap;overflow-wrap:anywhere;font-size:.82em}
.legend span{display:inline-block;margin-right:1.2em} .sw{display:inline-block;width:12px;height:12px;vertical-align:middle;margin-right:4px}
svg{display:block;max-width:100%;height:auto} svg text{font-family:system-ui,sans-serif}
details{margin:.3em 0} summary{cursor:pointer} ol.violations li{margin-bottom:.4em} .bad{color:#b30000;font-weight:600}

""";

    public static string E(string text) => WebUtility.HtmlEncode(text);

    /// <summary>A number for an SVG attribute (invariant culture, one decimal).</summary>
    public static string N(double value) => value.ToString("0.#", CultureInfo.InvariantCulture);

    public static void Table(StringBuilder html, ReportTable table, string cssClass)
    {
        html.Append("<div class=\"scroll\"><table class=\"").Append(cssClass).Append("\"><thead><tr>");
        foreach (string c in table.Columns)
            html.Append("<th>").Append(E(c)).Append("</th>");
        html.Append("</tr></thead><tbody>\n");
        for (int i = 0; i < table.Rows.Count; i++)
        {
            html.Append(table.SectionStarts.Contains(i) && i > 0 ? "<tr class=\"section\">" : "<tr>");
            foreach (string cell in table.Rows[i])
                html.Append("<td>").Append(E(cell)).Append("</td>");
            html.Append("</tr>\n");
        }
        html.Append("</tbody></table></div>\n");
        foreach (string note in table.Notes)
            html.Append("<p class=\"note\">").Append(E(note)).Append("</p>\n");
    }
}
