using Stage2Lab.Simulation.Import;

namespace Stage2Lab.Tests.Import;

public class LineCleanerTests
{
    private static (List<CleanLine> Lines, List<SkippedLine> Skipped) Clean(string text)
    {
        var skipped = new List<SkippedLine>();
        return (LineCleaner.Clean(text, "f", skipped), skipped);
    }

    [Fact]
    public void Mail_quotes_html_entities_and_annotations_are_removed_and_line_numbers_kept()
    {
        var (lines, _) = Clean("> > 7f00-7f01 rw-p 0 00:00 0   <-- guest RAM\n>>>   0000-0fff (prio 0, ram): x\nA&nbsp;B &gt; C  # note\n");
        Assert.Equal(["7f00-7f01 rw-p 0 00:00 0", "0000-0fff (prio 0, ram): x", "A B > C"], lines.Select(l => l.Text));
        Assert.Equal([1, 2, 3], lines.Select(l => l.Number));
        Assert.Equal(2, lines[1].Indent);
    }

    [Fact]
    public void Prompts_fences_and_elisions_are_reported_and_blank_lines_dropped()
    {
        var (lines, skipped) = Clean("$ cat /proc/1/maps\n```\n\nroot@host:~# lspci -vv\n(qemu) info mtree -f\n...\n[...]\nrecord\n");
        Assert.Equal(["record"], lines.Select(l => l.Text));
        Assert.Equal([1, 2, 4, 5, 6, 7], skipped.Select(s => s.Where.Line));
        Assert.Contains("elision", skipped[4].Reason);
        Assert.Contains("prompt", skipped[0].Reason);
    }

    [Fact]
    public void Quoted_printable_soft_breaks_join_and_escapes_decode_but_hex_in_records_stays()
    {
        var (lines, _) = Clean("gpa=3D0x40000000 size=\n=3D0x200000 ua=3D0xff\nnext line 0x3D\n");
        Assert.Equal("gpa=0x40000000 size=0x200000 ua=0xff", lines[0].Text);
        Assert.Equal(1, lines[0].Number);
        Assert.Equal("next line 0x3D", lines[1].Text);
        Assert.Equal(3, lines[1].Number);
    }

    [Fact]
    public void Text_without_quoted_printable_markers_keeps_trailing_equals()
    {
        var (lines, _) = Clean("a=\nb\n");
        Assert.Equal(["a=", "b"], lines.Select(l => l.Text));
    }
}
