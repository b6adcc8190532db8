using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Import;

/// <summary>
/// What `s2lab import` produced: the scenario, every assumption made (typed, so a later `advise` can tell measured
/// facts from guesses), every skipped line with its reason, the facts about the host and VM taken from the records,
/// and the provenance of every item. <see cref="ToYaml"/> writes the scenario with a comment above each item.
/// </summary>
public sealed class ImportResult
{
    public required Scenario Scenario { get; init; }

    public required IReadOnlyList<ImportAssumption> Assumptions { get; init; }

    public required IReadOnlyList<SkippedLine> Skipped { get; init; }

    /// <summary>Host and VM settings read from the records (host.page-size, host.thp, ...), each with its source.</summary>
    public required IReadOnlyList<string> Facts { get; init; }

    public required ImportProvenance Provenance { get; init; }

    /// <summary>The input files, in the order given.</summary>
    public required IReadOnlyList<(RecordFormat Format, string File)> Inputs { get; init; }

    public string ToYaml()
    {
        var header = new List<string>
        {
            "Imported by `s2lab import` from " + string.Join(", ", Inputs.Select(i => $"{i.File} ({RecordFormats.Describe(i.Format)})")) + ".",
            "Every item names the record lines it comes from; what no record says is assumed, and listed here and above the item.",
        };
        foreach (string fact in Facts)
            header.Add(fact);
        header.Add(Assumptions.Count == 0 ? "Assumptions: none." : $"Assumptions ({Assumptions.Count}):");
        foreach (ImportAssumption a in Assumptions)
            header.Add($"- [{a.Kind}] {a}");
        header.Add(Skipped.Count == 0 ? "Skipped lines: none." : $"Skipped lines: {Skipped.Count} (each printed on stderr with its reason).");
        return ScenarioWriter.Write(Scenario, header, item => Provenance.Comments(item));
    }
}
