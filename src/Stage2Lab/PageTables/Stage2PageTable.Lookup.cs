using Stage2Lab.Arch;

namespace Stage2Lab.PageTables;

/// <summary>Reading the table: the hardware walk, kvm_pgtable_get_leaf, and leaf enumeration.</summary>
public sealed partial class Stage2PageTable
{
    /// <summary>
    /// The stage-2 walk the MMU performs for an access (VMSAv8-64 translation): the leaf's PA, level and size,
    /// or the fault it raises — translation fault at the level of the invalid entry, permission fault at the
    /// leaf's level (S2AP for data, XN for instruction fetches).
    /// </summary>
    public Translation Translate(ulong ipa, AccessKind access) => Walk(ipa, access, out _, out _);

    /// <summary>The walk of <see cref="Translate"/>, and where it ended: the last table read and the entry's index.</summary>
    private Translation Walk(ulong ipa, AccessKind access, out Span<ulong> table, out int index)
    {
        table = default;
        index = 0;
        if (ipa >= Geometry.IpaLimit)
            // An IPA beyond VTCR_EL2.T0SZ is a translation fault reported at level 0 (the walk never starts).
            return new Translation(TranslationOutcome.AddressSizeFault, 0, 0, 0, default);

        Granule granule = Granule;
        int level = Geometry.StartLevel;
        table = Pool.Page(_rootIds[Geometry.RootPageIndex(ipa)]);
        while (true)
        {
            index = granule.IndexAt(ipa, level);
            ulong pte = table[index];
            if ((pte & Descriptor.ValidBit) == 0)
                return new Translation(TranslationOutcome.TranslationFault, level, 0, 0, default);
            if (level < Granule.LastLevel && (pte & Descriptor.TypeBit) != 0)
            {
                table = Pool.Page(Pool.IdOf(pte & AddressMask));
                level++;
                continue;
            }
            ulong span = granule.LevelSize(level);
            ulong pa = (pte & AddressMask) + (ipa & (span - 1));
            bool allowed = access switch
            {
                AccessKind.Read => (pte & Descriptor.S2apR) != 0,
                AccessKind.Write => (pte & Descriptor.S2apW) != 0,
                _ => (pte & Descriptor.XnMask) == 0,
            };
            return new Translation(allowed ? TranslationOutcome.Mapped : TranslationOutcome.PermissionFault, level, pa, span, new Descriptor(pte));
        }
    }

    /// <summary>
    /// Asks the host CPU to fetch the entry a walk for <paramref name="ipa"/> reads at <paramref name="level"/>
    /// (the model's speed, no effect on the table): follows the table entries down to that level's table, whose
    /// entry is fetched, not read. Nothing when the walk ends above that level.
    /// </summary>
    public void PrefetchEntry(ulong ipa, int level)
    {
        if (ipa >= Geometry.IpaLimit)
            return;
        Granule granule = Granule;
        int at = Geometry.StartLevel;
        Span<ulong> table = Pool.Page(_rootIds[Geometry.RootPageIndex(ipa)]);
        while (at < level)
        {
            ulong pte = table[granule.IndexAt(ipa, at)];
            if ((pte & (Descriptor.ValidBit | Descriptor.TypeBit)) != (Descriptor.ValidBit | Descriptor.TypeBit) || at == Granule.LastLevel)
                return;
            table = Pool.Page(Pool.IdOf(pte & AddressMask));
            at++;
        }
        EntryPrefetch.Prefetch(table, granule.IndexAt(ipa, at));
    }

    /// <summary>
    /// A guest access as the hardware performs it: translate, and on success set the access flag in the
    /// leaf (hardware AF management, VTCR_EL2.HA) — not a KVM descriptor write. The translation returned is
    /// the leaf as the walk found it (before the flag was set).
    /// </summary>
    public Translation Access(ulong ipa, AccessKind access)
    {
        Translation t = Walk(ipa, access, out Span<ulong> table, out int index);
        if (t.IsMapped && !t.Leaf.AccessFlagSet)
        {
            table[index] |= Descriptor.AccessFlag;
            Changed();
        }
        return t;
    }

    /// <summary>kvm_pgtable_get_leaf: the entry (valid or not) that ends the walk for ipa, and its level.</summary>
    public int GetLeaf(ulong ipa, out Descriptor pte, out int level)
    {
        pte = default;
        level = 0;
        if (ipa >= Geometry.IpaLimit)
            return -Errno.ERANGE;
        Granule granule = Granule;
        level = Geometry.StartLevel;
        Span<ulong> table = Pool.Page(_rootIds[Geometry.RootPageIndex(ipa)]);
        while (true)
        {
            ulong raw = table[granule.IndexAt(ipa, level)];
            if (!new Descriptor(raw).IsTable(level))
            {
                pte = new Descriptor(raw);
                return 0;
            }
            table = Pool.Page(Pool.IdOf(raw & AddressMask));
            level++;
        }
    }

    /// <summary>Every valid leaf overlapping [ipa, ipa+size), in IPA order.</summary>
    public void VisitLeaves<TSink>(ulong ipa, ulong sizeBytes, ref TSink sink) where TSink : struct, ILeafSink
    {
        var visitor = new LeafCollector<TSink>(this, sink);
        ulong end = Math.Min(ipa + sizeBytes, Geometry.IpaLimit);
        if (end > ipa)
            Walker.Walk(this, ipa, end - ipa, WalkFlags.Leaf, ref visitor);
        sink = visitor.Sink;
    }

    /// <summary>Every valid leaf of the table, in IPA order.</summary>
    public void VisitLeaves<TSink>(ref TSink sink) where TSink : struct, ILeafSink =>
        VisitLeaves(0, Geometry.IpaLimit, ref sink);

    private struct LeafCollector<TSink> : IWalkVisitor where TSink : struct, ILeafSink
    {
        private readonly Stage2PageTable _pgt;
        public TSink Sink;

        public LeafCollector(Stage2PageTable pgt, TSink sink)
        {
            _pgt = pgt;
            Sink = sink;
        }

        public int Visit(ref VisitContext ctx, WalkFlags visit)
        {
            if ((ctx.Old & Descriptor.ValidBit) != 0)
            {
                ulong span = _pgt.Granule.LevelSize(ctx.Level);
                Sink.OnLeaf(new LeafEntry(ctx.Addr & ~(span - 1), ctx.Level, span, new Descriptor(ctx.Old)));
            }
            return 0;
        }
    }
}
