using System.Collections;

namespace Stage2Lab.Reports;

/// <summary>
/// A read-only list whose items are made from a source list's when they are read. A document's per-phase list is
/// one: serialized, each phase's JSON object is made, written and dropped, so a timeline of 100,000 events does not
/// hold its whole document at once (the output's bytes are the same as from a filled list).
/// </summary>
internal sealed class ProjectedList<TSource, T>(IReadOnlyList<TSource> source, Func<TSource, T> project) : IReadOnlyList<T>
{
    public int Count => source.Count;

    public T this[int index] => project(source[index]);

    public IEnumerator<T> GetEnumerator()
    {
        for (int i = 0; i < source.Count; i++)
            yield return project(source[i]);
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
