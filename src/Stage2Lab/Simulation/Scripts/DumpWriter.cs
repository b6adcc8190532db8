using Stage2Lab.PageTables;

namespace Stage2Lab.Simulation.Scripts;

/// <summary>
/// The `dump` output both script formats share: every valid leaf in IPA order
/// (<c>L&lt;level&gt; 0x%016x 0x%x 0x%016x</c>), the reachable table pages per level, then <c>end</c>.
/// </summary>
public static class DumpWriter
{
    public static void Write(Stage2PageTable pgt, TextWriter output)
    {
        var sink = new LineSink(output);
        pgt.VisitLeaves(ref sink);
        output.Write("tables L0=");
        output.Write(pgt.LiveTablePages(0));
        output.Write(" L1=");
        output.Write(pgt.LiveTablePages(1));
        output.Write(" L2=");
        output.Write(pgt.LiveTablePages(2));
        output.Write(" L3=");
        output.Write(pgt.LiveTablePages(3));
        output.Write("\nend\n");
    }

    private readonly struct LineSink : ILeafSink
    {
        private readonly TextWriter _output;

        public LineSink(TextWriter output) => _output = output;

        public void OnLeaf(in LeafEntry leaf)
        {
            Span<char> line = stackalloc char[64];
            line[0] = 'L';
            line[1] = (char)('0' + leaf.Level);
            line[2] = ' ';
            line[3] = '0';
            line[4] = 'x';
            int n = 5;
            leaf.Ipa.TryFormat(line[n..], out int w, "x16");
            n += w;
            line[n++] = ' ';
            line[n++] = '0';
            line[n++] = 'x';
            leaf.SizeBytes.TryFormat(line[n..], out w, "x");
            n += w;
            line[n++] = ' ';
            line[n++] = '0';
            line[n++] = 'x';
            leaf.Descriptor.Raw.TryFormat(line[n..], out w, "x16");
            n += w;
            line[n++] = '\n';
            _output.Write(line[..n]);
        }
    }
}
