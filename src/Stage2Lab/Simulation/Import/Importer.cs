namespace Stage2Lab.Simulation.Import;

/// <summary>
/// `s2lab import`: reads any subset of a VM's records (smaps, maps, pmap -X, QEMU trace, info mtree -f, /proc/iomem,
/// lspci -v/-vv), cleans pasted text, parses each format, and joins them into a scenario (docs/import.md).
/// Throws <see cref="ImportException"/> when an input is unreadable, nothing usable remains, or sources contradict.
/// </summary>
public static class Importer
{
    public static ImportResult Import(IReadOnlyList<RecordInput> inputs, ImportOptions? options = null)
    {
        if (inputs.Count == 0)
            throw new ImportException("no records given: pass at least one of --smaps, --maps, --pmap, --qemu-trace, --mtree, --iomem, --lspci");
        ParsedRecords records = Parse(inputs);
        return ImportJoin.Run(records, options ?? new ImportOptions());
    }

    /// <summary>Skipped lines in input order, then line order (deterministic output).</summary>
    internal static void SortSkipped(ParsedRecords records)
    {
        var order = records.Inputs.Select((input, i) => (input.File, i)).GroupBy(x => x.File).ToDictionary(g => g.Key, g => g.First().i);
        var sorted = records.Skipped.OrderBy(s => order.GetValueOrDefault(s.Where.File, int.MaxValue)).ThenBy(s => s.Where.Line).ToList();
        records.Skipped.Clear();
        records.Skipped.AddRange(sorted);
    }

    /// <summary>The parse step alone (each input cleaned and parsed; nothing joined).</summary>
    public static ParsedRecords Parse(IReadOnlyList<RecordInput> inputs)
    {
        var records = new ParsedRecords();
        foreach (RecordInput input in inputs)
        {
            records.Inputs.Add((input.Format, input.Name));
            List<CleanLine> lines = LineCleaner.Clean(input.Text, input.Name, records.Skipped);
            switch (input.Format)
            {
                case RecordFormat.Smaps:
                case RecordFormat.Maps:
                    MapsParser.Parse(lines, input.Name, input.Format, records);
                    break;
                case RecordFormat.Pmap:
                    PmapParser.Parse(lines, input.Name, records);
                    break;
                case RecordFormat.QemuTrace:
                    QemuTraceParser.Parse(lines, input.Name, records);
                    break;
                case RecordFormat.Mtree:
                    MtreeParser.Parse(lines, input.Name, records);
                    break;
                case RecordFormat.Iomem:
                    IomemParser.Parse(lines, input.Name, records);
                    break;
                default:
                    LspciParser.Parse(lines, input.Name, records);
                    break;
            }
        }
        SortSkipped(records);
        return records;
    }
}
