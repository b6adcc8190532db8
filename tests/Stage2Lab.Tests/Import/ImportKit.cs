using Stage2Lab.Simulation.Import;

namespace Stage2Lab.Tests.Import;

/// <summary>Parsing and importing record text given inline.</summary>
internal static class ImportKit
{
    public static ParsedRecords Parse(RecordFormat format, string text, string name = "in.txt") =>
        Importer.Parse([RecordInput.FromText(format, name, text)]);

    public static ImportResult Import(params (RecordFormat Format, string Text)[] inputs) =>
        Importer.Import(inputs.Select(i => RecordInput.FromText(i.Format, RecordFormats.OptionName(i.Format) + ".txt", i.Text)).ToList());

    public static ImportException ImportFails(params (RecordFormat Format, string Text)[] inputs) =>
        Assert.Throws<ImportException>(() => Import(inputs));

    public static string SampleDir(string set) => Path.Combine(RepoPaths.RepoRoot, "examples", "import", set);

    /// <summary>The s2lab import arguments for a sample set: one option per file, named after it.</summary>
    public static string[] SampleArgs(string set) =>
        Directory.GetFiles(SampleDir(set), "*.txt").OrderBy(f => f, StringComparer.Ordinal)
            .SelectMany(f => new[] { "--" + Path.GetFileNameWithoutExtension(f), f }).ToArray();

    public static IEnumerable<string> SampleSets() =>
        new[] { "real", "synthetic" }.SelectMany(kind => Directory.GetDirectories(SampleDir(kind)).Select(d => kind + "/" + Path.GetFileName(d)))
            .OrderBy(s => s, StringComparer.Ordinal);
}
