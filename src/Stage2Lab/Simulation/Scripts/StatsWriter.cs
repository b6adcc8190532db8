using Stage2Lab.PageTables;

namespace Stage2Lab.Simulation.Scripts;

/// <summary>`--stats`: one `stat NAME VALUE` line per event counter, after the last `end`.</summary>
public static class StatsWriter
{
    public static void Write(Stage2PageTable pgt, TextWriter output)
    {
        ref readonly Stage2Counters counters = ref pgt.Counters;
        for (int i = 0; i < Stage2Counters.Count; i++)
        {
            var counter = (Stage2Counter)i;
            output.Write("stat ");
            output.Write(CounterNames.Of(counter));
            output.Write(' ');
            output.Write(counters[counter]);
            output.Write('\n');
        }
        for (int level = 0; level <= 3; level++)
        {
            output.Write("stat table-pages-live-l");
            output.Write(level);
            output.Write(' ');
            output.Write(pgt.LiveTablePages(level));
            output.Write('\n');
        }
        output.Write("stat table-bytes-live ");
        output.Write(pgt.TableBytes);
        output.Write('\n');
    }
}
