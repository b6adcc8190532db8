using Stage2Lab.Arch;
using Stage2Lab.PageTables;

namespace Stage2Lab.Tests.PageTables;

/// <summary>
/// Walks the real table pages from the concatenated roots, independently of the library's walker, and
/// checks the bookkeeping against what it finds: refcounts, per-level live counts, leaked pages.
/// </summary>
internal static class TableAudit
{
    /// <summary>Reachable table pages per level (roots at the start level) and the valid leaves found.</summary>
    public readonly record struct Census(long[] TablesByLevel, long Leaves);

    /// <summary>
    /// Returns null when the table is consistent, else a description of the first problem:
    /// a reachable page that is not live or has the wrong level, a refcount (TablePagePool.EntryCount) that
    /// differs from its non-zero entries, a non-zero invalid entry left behind, a leaf at a level that cannot
    /// hold one, a page reachable twice, or live counts that differ from the walk's.
    /// </summary>
    public static string? Problems(Stage2PageTable pgt) => Problems(pgt, out _);

    public static string? Problems(Stage2PageTable pgt, out Census census)
    {
        var pool = pgt.Pool;
        var tables = new long[4];
        long leaves = 0;
        var seen = new HashSet<int>();
        var pending = new Stack<(int Id, int Level)>();
        census = new Census(tables, 0);
        for (int i = 0; i < pgt.RootCount; i++)
            pending.Push((pgt.RootId(i), pgt.Geometry.StartLevel));

        while (pending.Count > 0)
        {
            var (id, level) = pending.Pop();
            if (!seen.Add(id))
                return $"table page {id} is reachable twice";
            if (!pool.IsLive(id))
                return $"table page {id} (L{level}) is reachable but not live";
            if (pool.Level(id) != level)
                return $"table page {id} is reached at L{level} but recorded at L{pool.Level(id)}";
            tables[level]++;

            Span<ulong> entries = pool.Page(id);
            int nonZero = 0;
            for (int idx = 0; idx < entries.Length; idx++)
            {
                var pte = new Descriptor(entries[idx]);
                if (pte.IsZero)
                    continue;
                nonZero++;
                if (!pte.IsValid)
                    return $"L{level} table page {id} entry {idx} is non-zero but invalid: {pte}";
                if (pte.IsTable(level))
                    pending.Push((pool.IdOf(pte.OutputAddress(pgt.Granule)), level + 1));
                else if (!pgt.Granule.LevelSupportsLeaf(level))
                    return $"L{level} table page {id} entry {idx} is a leaf at a level that cannot hold one: {pte}";
                else
                    leaves++;
            }
            if (pool.EntryCount(id) != nonZero)
                return $"L{level} table page {id}: refcount {pool.EntryCount(id)} but {nonZero} non-zero entries";
        }

        census = new Census(tables, leaves);
        for (int level = 0; level < 4; level++)
        {
            if (pgt.LiveTablePages(level) != tables[level])
                return $"LiveTablePages({level}) = {pgt.LiveTablePages(level)} but a fresh walk reaches {tables[level]}";
        }
        if (pgt.LiveTablePagesTotal != seen.Count)
            return $"{pgt.LiveTablePagesTotal} live table pages but only {seen.Count} reachable (leaked pages)";
        return null;
    }
}
