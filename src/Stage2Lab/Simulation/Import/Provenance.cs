namespace Stage2Lab.Simulation.Import;

/// <summary>Where each item of an imported scenario came from: the record lines, and what about it was assumed.</summary>
public sealed class ItemProvenance
{
    public List<SourceRef> Sources { get; } = new();

    public List<string> Assumed { get; } = new();

    /// <summary>The comment lines written above the item.</summary>
    public IEnumerable<string> Comments()
    {
        if (Sources.Count > 0)
            yield return "from " + string.Join(", ", Sources.Distinct());
        foreach (string a in Assumed)
            yield return "assumed: " + a;
    }
}

/// <summary>Provenance per scenario item (RangeSpec, VmaSpec, MemslotSpec, TimelineEvent), by reference.</summary>
public sealed class ImportProvenance
{
    private readonly Dictionary<object, ItemProvenance> _items = new(ReferenceEqualityComparer.Instance);

    public ItemProvenance For(object item)
    {
        if (!_items.TryGetValue(item, out ItemProvenance? p))
            _items[item] = p = new ItemProvenance();
        return p;
    }

    public bool TryGet(object item, out ItemProvenance? provenance) => _items.TryGetValue(item, out provenance);

    public void Source(object item, SourceRef where) => For(item).Sources.Add(where);

    public void Source(object item, IEnumerable<SourceRef> where) => For(item).Sources.AddRange(where);

    public void Assume(object item, string text) => For(item).Assumed.Add(text);

    /// <summary>The comment lines for an item (none when it has no provenance).</summary>
    public IEnumerable<string> Comments(object item) => _items.TryGetValue(item, out ItemProvenance? p) ? p.Comments() : [];
}
