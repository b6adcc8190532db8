using Stage2Lab.Simulation.Runs;

namespace Stage2Lab.Reports;

/// <summary>
/// One row of a per-phase table or chart: a phase of its own, or a run of consecutive shown phases summed
/// into one row.
/// </summary>
/// <param name="Phases">The phase indices the row stands for (one, or the folded ones in order).</param>
internal readonly record struct PhaseRow(ReadOnlyMemory<int> Phases)
{
    public bool IsFolded => Phases.Length > 1;

    public int First => Phases.Span[0];

    public int Last => Phases.Span[^1];

    /// <summary>The row's label: the phase's name, or "… " and <see cref="Folded"/>.</summary>
    public string Label(PolicyRun run) => IsFolded ? "… " + Folded(run) : run.Phases[First].Name;

    /// <summary>How many phases the row folds and which: "263 more phases (38:access to 300:access)".</summary>
    public string Folded(PolicyRun run) => $"{Format.Count(Phases.Length)} more phases ({run.Phases[First].Name} to {run.Phases[Last].Name})";

    /// <summary>The sum of <paramref name="value"/> over the row's phases.</summary>
    public double Sum(Func<int, double> value)
    {
        double sum = 0;
        foreach (int p in Phases.Span)
            sum += value(p);
        return sum;
    }
}

/// <summary>
/// Which phases a table or chart shows one by one. A timeline of a few dozen events gets a row per phase. A
/// long one (a script of 100,000 single accesses) would print rows nobody reads, and rendering them took
/// seconds and hundreds of MiB, so past the first <see cref="Leading"/> phases all but the last are summed in
/// one row; the JSON output keeps every phase.
/// </summary>
internal static class PhaseRows
{
    /// <summary>The most rows a per-phase table or chart gets.</summary>
    public const int MaxRows = 40;

    /// <summary>Phases shown one by one before the folded row (the last phase, the teardown, follows it).</summary>
    private const int Leading = MaxRows - 2;

    /// <summary>The rows for the phases <paramref name="all"/> (indices in timeline order; the array is kept).</summary>
    public static List<PhaseRow> Of(int[] all)
    {
        var rows = new List<PhaseRow>(Math.Min(all.Length, MaxRows));
        if (all.Length <= MaxRows)
        {
            for (int i = 0; i < all.Length; i++)
                rows.Add(new PhaseRow(all.AsMemory(i, 1)));
            return rows;
        }
        for (int i = 0; i < Leading; i++)
            rows.Add(new PhaseRow(all.AsMemory(i, 1)));
        rows.Add(new PhaseRow(all.AsMemory(Leading, all.Length - Leading - 1)));
        rows.Add(new PhaseRow(all.AsMemory(all.Length - 1, 1)));
        return rows;
    }

    /// <summary>The rows for every phase of <paramref name="run"/>.</summary>
    public static List<PhaseRow> All(PolicyRun run) => Of([.. Enumerable.Range(0, run.Phases.Count)]);
}
