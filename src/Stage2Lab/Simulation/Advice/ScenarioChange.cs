using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Advice;

/// <summary>
/// One change to a scenario, as data: its kind, what it is about (a memslot and its mappings, or the whole host),
/// and the numbers that make it concrete (addresses, sizes). <see cref="Apply"/> makes a changed copy to run;
/// Reports renders the change in the user's terms.
/// </summary>
public abstract record ScenarioChange
{
    public abstract ChangeKind Kind { get; }

    /// <summary>The memslot the change is about; null for a change of the whole host (the granule).</summary>
    public abstract int? SlotId { get; }

    /// <summary>The mappings (VMAs) the change touches, by name (none for a change of the host).</summary>
    public abstract IReadOnlyList<string> Mappings { get; }

    /// <summary>What makes two changes the same change (kind and numbers), for de-duplication and ordering.</summary>
    public abstract string Key { get; }

    /// <summary>A changed copy of <paramref name="s"/>; <paramref name="s"/> itself is not modified.</summary>
    public Scenario Apply(Scenario s)
    {
        Scenario copy = ScenarioCopy.Of(s);
        ApplyTo(copy);
        return copy;
    }

    /// <summary>Makes the change in a copy that belongs to the caller.</summary>
    protected abstract void ApplyTo(Scenario copy);
}
