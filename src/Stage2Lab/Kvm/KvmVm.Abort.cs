using Stage2Lab.Arch;
using Stage2Lab.PageTables;

namespace Stage2Lab.Kvm;

/// <summary>Guest accesses: the hardware walk, then kvm_handle_guest_abort.</summary>
public sealed partial class KvmVm
{
    /// <summary>When set, every fault that reaches user_mem_abort leaves its page-table events in
    /// <see cref="LastFaultEvents"/> (a snapshot per fault; hits cost nothing).</summary>
    public bool RecordFaultEvents { get; set; }

    /// <summary>The page-table events of the last fault that reached user_mem_abort (see <see cref="RecordFaultEvents"/>).</summary>
    public Stage2Counters LastFaultEvents { get; private set; }

    /// <summary>When set, every access that faults gets its own decision record, left in <see cref="LastDecision"/>
    /// (hits get none, so a run that keeps representative decisions pays only for its faults).</summary>
    public bool ExplainEveryFault { get; set; }

    /// <summary>The decision record of the last access (with <see cref="ExplainEveryFault"/>: null after a hit).</summary>
    public DecisionRecord? LastDecision { get; private set; }

    private Stage2HitMemo? _hitMemo;

    /// <summary>
    /// Whether hits are served from a memo of recent hits (<see cref="Stage2HitMemo"/>) rather than by walking the
    /// table again; on by default. It changes no result, count or descriptor (tests play the same accesses with
    /// it on and off to show it); off, every access walks.
    /// </summary>
    internal bool HitMemoEnabled
    {
        get => _hitMemo is not null;
        set => _hitMemo = value ? _hitMemo ?? new Stage2HitMemo(Stage2) : null;
    }

    /// <summary>
    /// One guest access. The stage-2 table is walked as the MMU would: a valid leaf with the permission is a hit
    /// (the hardware sets AF). Otherwise the abort it raises — translation fault at the level the walk stopped,
    /// permission fault at the leaf's level — goes to kvm_handle_guest_abort.
    /// </summary>
    /// <summary>
    /// A hint that the guest will soon access <paramref name="ipa"/>: when the hit memo cannot answer (spread
    /// accesses), the host CPU is asked to fetch the stage-2 entry the access's walk reads at
    /// <paramref name="level"/>. The model's speed only; nothing is read, counted or changed.
    /// </summary>
    public void PrefetchAccess(ulong ipa, int level)
    {
        if (_hitMemo is null || _hitMemo.Resting)
            Stage2.PrefetchEntry(ipa, level);
    }

    public FaultResult Access(ulong ipa, AccessKind access, DecisionRecord? explain = null)
    {
        HypVmCreated |= Config.ProtectedKvmEnabled;
        // A hit on a leaf hit before, with the table unchanged since: the walk would find it again, with its AF
        // already set, and change nothing. Explained accesses go the full way (they record the walk).
        if (explain is null && RememberedHit(ipa, access))
            return FaultResult.Hit();
        return Walked(ipa, access, explain);
    }

    /// <summary>A hit the memo remembers, counted (the walk would change nothing); false: the access must walk.</summary>
    private bool RememberedHit(ulong ipa, AccessKind access)
    {
        if (_hitMemo is not { } memo || !memo.Hits(ipa, access))
            return false;
        LastDecision = null;
        _counters.CountHit();
        return true;
    }

    /// <summary>
    /// <see cref="Access"/> for a player that keeps no result (only the counters and the state): a hit the memo
    /// remembers is counted and nothing more is built; anything else goes the full way.
    /// </summary>
    public void AccessCounted(ulong ipa, AccessKind access)
    {
        HypVmCreated |= Config.ProtectedKvmEnabled;
        if (!RememberedHit(ipa, access))
            _ = Walked(ipa, access, null);
    }

    /// <summary>
    /// <see cref="AccessCounted"/> for each access of a stream, in order, with the same counts and state: a run of
    /// hits the memo remembers is counted in one step (<see cref="Stage2HitMemo.CountHits"/>), and while the memo
    /// cannot answer (spread accesses) the stage-2 entry of the access <paramref name="prefetchAhead"/> on is
    /// fetched ahead (<see cref="PrefetchAccess"/>), so that the walks' cache misses overlap.
    /// </summary>
    public void AccessCountedAll(ReadOnlySpan<ulong> ipas, ReadOnlySpan<AccessKind> kinds, int prefetchAhead)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(kinds.Length, ipas.Length);
        HypVmCreated |= Config.ProtectedKvmEnabled;
        int i = 0;
        while (i < ipas.Length)
        {
            if (_hitMemo is { } memo)
            {
                int hits = memo.CountHits(ipas[i..], kinds[i..]);
                if (hits > 0)
                {
                    LastDecision = null;
                    _counters.CountHits(hits);
                    i += hits;
                    if (i == ipas.Length)
                        return;
                }
            }
            if (i + prefetchAhead < ipas.Length)
                PrefetchAccess(ipas[i + prefetchAhead], Granule.LastLevel);
            // Access i was probed and missed: it walks.
            _ = Walked(ipas[i], kinds[i], null);
            i++;
        }
    }

    /// <summary>The access past the memo: the hardware walk, and the fault path if it faults.</summary>
    private FaultResult Walked(ulong ipa, AccessKind access, DecisionRecord? explain)
    {
        Translation t = Stage2.Access(ipa, access);
        FaultResult result;
        if (t.IsMapped)
        {
            _hitMemo?.Remember(ipa, t);
            result = FaultResult.Hit();
            if (explain is not null)
            {
                explain.Begin(Policy.Name, ipa, access, Mmu.MaxBlockSizeBytes);
                explain.Add(new HardwareWalkStep(ipa, WalkFinding.Hit, t.Level, t.Pa, Config.IpaBits));
                explain.Result = result;
            }
            LastDecision = explain;
            _counters.Count(result);
            return result;
        }

        if (explain is null && ExplainEveryFault)
            explain = new DecisionRecord();
        explain?.Begin(Policy.Name, ipa, access, Mmu.MaxBlockSizeBytes);
        if (t.Outcome == TranslationOutcome.AddressSizeFault && Policy.InjectsAbortBeyondIpaSize)
        {
            // kvm_handle_guest_abort: beyond the VM's IPA size the guest gets an external abort.
            result = new FaultResult { Outcome = FaultOutcome.Injected, Status = FaultStatus.Translation, FaultLevel = t.Level };
            explain?.Add(new AbortInjectedStep(ipa, Config.IpaBits));
        }
        else
        {
            // Before the out-of-IPA-range check (5.x), an IPA beyond the IPA size is a translation fault like any
            // other: no memslot holds it, so it is MMIO (or -ENOEXEC for a fetch).
            FaultStatus status = t.Outcome == TranslationOutcome.PermissionFault ? FaultStatus.Permission : FaultStatus.Translation;
            explain?.Add(new HardwareWalkStep(ipa, t.Outcome switch
            {
                TranslationOutcome.PermissionFault => WalkFinding.PermissionFault,
                TranslationOutcome.AddressSizeFault => WalkFinding.BeyondIpaSize,
                _ => WalkFinding.TranslationFault,
            }, t.Level, 0, Config.IpaBits));
            result = HandleGuestAbort(Mmu, ipa, null, access, status, t.Level, explain) with { Status = status, FaultLevel = t.Level };
        }
        _counters.Count(result);
        if (explain is not null)
            explain.Result = result;
        LastDecision = explain;
        return result;
    }

    /// <summary>
    /// kvm_handle_guest_abort (same shape from 5.10 to 7.4): the IPA as HPFAR reports it (IPA[47:12]); no slot,
    /// or a write to a READONLY slot, is MMIO for the VMM — except an instruction fetch, which gets -ENOEXEC and
    /// an injected abort; everything else is user_mem_abort's to decide. For an L2 guest's fault
    /// (<paramref name="nested"/>), the slot and HVA are those of the L1 IPA the L1 hypervisor's stage 2 gave, and
    /// <paramref name="mmu"/> is the shadow stage 2.
    /// </summary>
    private FaultResult HandleGuestAbort(Stage2Mmu mmu, ulong ipa, NestedTranslation? nested, AccessKind access, FaultStatus status, int level, DecisionRecord? explain)
    {
        ulong faultIpa = ipa & ~0xFFFUL;
        ulong canonicalIpa = nested is { } n ? n.OutputIpa : faultIpa;
        Memslot? slot = Memslots.Find(canonicalIpa);
        bool writeFault = access == AccessKind.Write;
        if (slot is null || (writeFault && slot.IsReadOnly))
        {
            if (explain is not null)
            {
                explain.Slot = slot is null ? null : MemslotInfo.Of(slot);
                explain.Add(new MemslotLookupStep(canonicalIpa, explain.Slot, slot is not null, 0));
            }
            if (access == AccessKind.Exec)
            {
                explain?.Add(new ExecOutsideMemslotStep());
                return FaultResult.Fail(Errno.ENOEXEC);
            }
            explain?.Add(new MmioExitStep());
            return new FaultResult { Outcome = FaultOutcome.Mmio, Ipa = nested is null ? ipa : canonicalIpa | (ipa & 0xFFFUL) };
        }

        ulong hva = slot.HvaOf(canonicalIpa & Granule.PageMask);
        if (explain is not null)
        {
            explain.Slot = MemslotInfo.Of(slot);
            explain.Hva = hva;
            explain.Vma = Host.FindVma(hva) is { } vma ? VmaInfo.Of(vma) : null;
            explain.Add(new MemslotLookupStep(canonicalIpa, explain.Slot, false, hva));
        }
        var ctx = new FaultContext(mmu, Host, Config, slot, faultIpa, hva, access, status, level, explain, nested);
        // The counter snapshot (192 bytes) is taken only when someone wants this fault's events.
        if (explain is null && !RecordFaultEvents)
            return Policy.UserMemAbort(in ctx);
        Stage2Counters before = mmu.Pgt.Counters;
        FaultResult result = Policy.UserMemAbort(in ctx);
        LastFaultEvents = mmu.Pgt.Counters - before;
        if (explain is not null)
            explain.Events = LastFaultEvents;
        return result;
    }
}
