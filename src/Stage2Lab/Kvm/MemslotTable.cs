using Stage2Lab.Arch;
namespace Stage2Lab.Kvm;

/// <summary>
/// The VM's memslots: by id, and sorted by IPA for an O(log n) gfn_to_memslot.
/// </summary>
public sealed class MemslotTable
{
    private readonly Dictionary<int, Memslot> _byId = new();
    private Memslot[] _sorted = [];
    private ulong[] _starts = [];

    public MemslotTable(int maxSlots) => MaxSlots = maxSlots;

    /// <summary>KVM_USER_MEM_SLOTS: ids are 0..MaxSlots-1.</summary>
    public int MaxSlots { get; }

    public int Count => _sorted.Length;

    /// <summary>Slots in IPA order.</summary>
    public ReadOnlySpan<Memslot> InIpaOrder => _sorted;

    public Memslot? ById(int id) => _byId.GetValueOrDefault(id);

    /// <summary>gfn_to_memslot: the slot holding ipa, or null.</summary>
    public Memslot? Find(ulong ipa)
    {
        int i = SortedStarts.LastAtOrBelow(_starts, ipa);
        if (i < 0)
            return null;
        Memslot slot = _sorted[i];
        return slot.ContainsIpa(ipa) ? slot : null;
    }

    /// <summary>kvm_check_memslot_overlap: another slot intersecting [ipa, end).</summary>
    public Memslot? Overlapping(int exceptId, ulong ipa, ulong end)
    {
        foreach (Memslot slot in _sorted)
        {
            if (slot.Id != exceptId && slot.Ipa < end && ipa < slot.IpaEnd)
                return slot;
        }
        return null;
    }

    /// <summary>Slots whose HVA range intersects [hva, end) (the MMU notifier's walk).</summary>
    public IEnumerable<Memslot> OverlappingHva(ulong hva, ulong end)
    {
        foreach (Memslot slot in _sorted)
        {
            if (slot.UserspaceAddr < end && hva < slot.HvaEnd)
                yield return slot;
        }
    }

    internal void Add(Memslot slot)
    {
        _byId[slot.Id] = slot;
        Reindex();
    }

    internal void Remove(Memslot slot)
    {
        _byId.Remove(slot.Id);
        Reindex();
    }

    internal void Reindex()
    {
        _sorted = _byId.Values.OrderBy(s => s.Ipa).ToArray();
        _starts = new ulong[_sorted.Length];
        for (int i = 0; i < _sorted.Length; i++)
            _starts[i] = _sorted[i].Ipa;
    }
}
