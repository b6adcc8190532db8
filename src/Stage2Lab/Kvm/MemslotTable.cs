using System.Collections.Immutable;
using Stage2Lab.Arch;

namespace Stage2Lab.Kvm;

/// <summary>
/// The VM's memslots: by id, and ordered by IPA for an O(log n) gfn_to_memslot.
/// </summary>
/// <remarks>
/// Since 5.17 the kernel keeps memslots in an rbtree by base gfn (virt/kvm/kvm_main.c: slots->gfn_tree,
/// kvm_insert_gfn_node; kvm_check_memslot_overlap walks only the slots in the gfn range), so creating, moving
/// and deleting a slot is O(log n) however many slots exist (KVM_USER_MEM_SLOTS = 32,764 per address space). The model does the same: an AVL tree of slot bases (<see cref="ImmutableSortedSet{T}"/>)
/// answers the overlap check of __kvm_set_memory_region in O(log n), so creating n slots costs O(n log n). The
/// fault path's lookup uses a flat sorted array instead (a binary search that allocates nothing), rebuilt in O(n)
/// on the first lookup after a change.
/// </remarks>
public sealed class MemslotTable
{
    private readonly Dictionary<int, Memslot> _byId = new();
    private readonly Dictionary<ulong, Memslot> _byIpa = new();
    private ImmutableSortedSet<ulong> _bases = ImmutableSortedSet<ulong>.Empty;
    private Memslot[] _sorted = [];
    private ulong[] _starts = [];
    private bool _stale;

    public MemslotTable(int maxSlots) => MaxSlots = maxSlots;

    /// <summary>KVM_USER_MEM_SLOTS: ids are 0..MaxSlots-1.</summary>
    public int MaxSlots { get; }

    public int Count => _byId.Count;

    /// <summary>Slots in IPA order.</summary>
    public ReadOnlySpan<Memslot> InIpaOrder
    {
        get
        {
            Refresh();
            return _sorted;
        }
    }

    public Memslot? ById(int id) => _byId.GetValueOrDefault(id);

    /// <summary>gfn_to_memslot: the slot holding ipa, or null.</summary>
    public Memslot? Find(ulong ipa)
    {
        Refresh();
        int i = SortedStarts.LastAtOrBelow(_starts, ipa);
        if (i < 0)
            return null;
        Memslot slot = _sorted[i];
        return slot.ContainsIpa(ipa) ? slot : null;
    }

    /// <summary>
    /// kvm_check_memslot_overlap: another slot intersecting [ipa, end). Slots in the table never overlap one
    /// another, so ordered by base they are ordered by end too: only the last slot (other than
    /// <paramref name="exceptId"/>) whose base lies below <paramref name="end"/> can reach past
    /// <paramref name="ipa"/>. O(log n).
    /// </summary>
    public Memslot? Overlapping(int exceptId, ulong ipa, ulong end)
    {
        int index = _bases.IndexOf(end);
        // IndexOf is a binary search: the complement of the first base above end when end is not a base.
        int below = (index >= 0 ? index : ~index) - 1;
        for (; below >= 0; below--)
        {
            Memslot slot = _byIpa[_bases[below]];
            if (slot.Id == exceptId)
                continue;
            return slot.IpaEnd > ipa ? slot : null;
        }
        return null;
    }

    /// <summary>Slots whose HVA range intersects [hva, end) (the MMU notifier's walk), in IPA order, as they are
    /// now: a walk that changes the slots meanwhile still sees these. Allocates nothing.</summary>
    public HvaOverlaps OverlappingHva(ulong hva, ulong end)
    {
        Refresh();
        // Refresh replaces the arrays, never changes them: safe to walk while slots change.
        return new HvaOverlaps(_sorted, hva, end);
    }

    /// <summary>The slots of <see cref="OverlappingHva"/>: a foreach walks them without allocating.</summary>
    public readonly struct HvaOverlaps(Memslot[] slots, ulong hva, ulong end)
    {
        public Enumerator GetEnumerator() => new(slots, hva, end);

        public struct Enumerator(Memslot[] slots, ulong hva, ulong end)
        {
            private int _index = -1;

            public readonly Memslot Current => slots[_index];

            public bool MoveNext()
            {
                while (++_index < slots.Length)
                {
                    Memslot slot = slots[_index];
                    if (slot.UserspaceAddr < end && hva < slot.HvaEnd)
                        return true;
                }
                return false;
            }
        }
    }

    internal void Add(Memslot slot)
    {
        _byId[slot.Id] = slot;
        _byIpa[slot.Ipa] = slot;
        _bases = _bases.Add(slot.Ipa);
        _stale = true;
    }

    internal void Remove(Memslot slot)
    {
        _byId.Remove(slot.Id);
        _byIpa.Remove(slot.Ipa);
        _bases = _bases.Remove(slot.Ipa);
        _stale = true;
    }

    /// <summary>Rebuilds the flat arrays after a change: the tree is already in IPA order, so O(n).</summary>
    private void Refresh()
    {
        if (!_stale)
            return;
        _sorted = new Memslot[_bases.Count];
        _starts = new ulong[_bases.Count];
        int i = 0;
        foreach (ulong ipa in _bases)
        {
            _sorted[i] = _byIpa[ipa];
            _starts[i] = ipa;
            i++;
        }
        _stale = false;
    }
}
