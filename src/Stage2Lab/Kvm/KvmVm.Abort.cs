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

    /// <summary>
    /// One guest access. The stage-2 table is walked as the MMU would: a valid leaf with the permission is a hit
    /// (the hardware sets AF). Otherwise the abort it raises — translation fault at the level the walk stopped,
    /// permission fault at the leaf's level — goes to kvm_handle_guest_abort.
    /// </summary>
    public FaultResult Access(ulong ipa, AccessKind access, DecisionRecord? explain = null)
    {
        if (explain is not null)
        {
            explain.Policy = Policy.Name;
            explain.Ipa = ipa;
            explain.Access = access;
        }
        Translation t = Stage2.Access(ipa, access);
        FaultResult result;
        if (t.IsMapped)
        {
            result = FaultResult.Hit();
            explain?.Note("hardware walk", $"valid L{t.Level} leaf maps IPA 0x{ipa:x} to PA 0x{t.Pa:x} and allows the {AccessName(access)}: no fault (the MMU sets AF)");
        }
        else if (t.Outcome == TranslationOutcome.AddressSizeFault && Policy.InjectsAbortBeyondIpaSize)
        {
            // kvm_handle_guest_abort: beyond the VM's IPA size the guest gets an external abort.
            result = new FaultResult { Outcome = FaultOutcome.Injected, Status = FaultStatus.Translation, FaultLevel = t.Level };
            explain?.Check("kvm_handle_guest_abort", false, $"IPA 0x{ipa:x} is at or above 2^{Config.IpaBits}: an abort is injected into the guest");
        }
        else
        {
            // Before the out-of-IPA-range check (5.x), an IPA beyond the IPA size is a translation fault like any
            // other: no memslot holds it, so it is MMIO (or -ENOEXEC for a fetch).
            FaultStatus status = t.Outcome == TranslationOutcome.PermissionFault ? FaultStatus.Permission : FaultStatus.Translation;
            explain?.Note("hardware walk", status == FaultStatus.Permission
                ? $"L{t.Level} leaf at IPA 0x{ipa:x} does not allow the {AccessName(access)}: permission fault, level {t.Level}"
                : t.Outcome == TranslationOutcome.AddressSizeFault
                    ? $"IPA 0x{ipa:x} is at or above 2^{Config.IpaBits}: translation fault, level {t.Level} ({Policy.Name} has no out-of-IPA-range check)"
                    : $"no valid entry at L{t.Level} for IPA 0x{ipa:x}: translation fault, level {t.Level}");
            result = HandleGuestAbort(ipa, access, status, t.Level, explain);
            result.Status = status;
            result.FaultLevel = t.Level;
        }
        _counters.Count(result);
        if (explain is not null)
            explain.Result = result;
        return result;
    }

    private static string AccessName(AccessKind access) => access switch
    {
        AccessKind.Read => "read",
        AccessKind.Write => "write",
        _ => "instruction fetch",
    };

    /// <summary>
    /// kvm_handle_guest_abort (same shape from 5.10 to 6.19): the IPA as HPFAR reports it (IPA[47:12]); no slot,
    /// or a write to a READONLY slot, is MMIO for the VMM — except an instruction fetch, which gets -ENOEXEC and
    /// an injected abort; everything else is user_mem_abort's to decide.
    /// </summary>
    private FaultResult HandleGuestAbort(ulong ipa, AccessKind access, FaultStatus status, int level, DecisionRecord? explain)
    {
        ulong faultIpa = ipa & ~0xFFFUL;
        Memslot? slot = Memslots.Find(faultIpa);
        bool writeFault = access == AccessKind.Write;
        if (slot is null || (writeFault && slot.IsReadOnly))
        {
            if (explain is not null)
            {
                explain.Slot = slot?.ToString();
                explain.Check("gfn_to_hva_memslot_prot", false, slot is null
                    ? $"no memslot holds IPA 0x{faultIpa:x}"
                    : $"{slot} is READONLY and this is a write");
            }
            if (access == AccessKind.Exec)
            {
                explain?.Note("kvm_handle_guest_abort", "instruction fetch: -ENOEXEC, an abort is injected into the guest");
                return FaultResult.Fail(Errno.ENOEXEC);
            }
            explain?.Note("io_mem_abort", "exit to the VMM with KVM_EXIT_MMIO; nothing is mapped");
            return new FaultResult { Outcome = FaultOutcome.Mmio, Ipa = ipa };
        }

        ulong hva = slot.HvaOf(faultIpa & Granule.PageMask);
        if (explain is not null)
        {
            explain.Slot = slot.ToString();
            explain.Hva = hva;
            explain.Vma = Host.FindVma(hva)?.ToString();
            explain.Note("gfn_to_hva_memslot_prot", $"IPA 0x{faultIpa:x} is in {slot}: HVA 0x{hva:x}");
        }
        var ctx = new FaultContext(this, slot, faultIpa, hva, access, status, level, explain);
        // The counter snapshot (192 bytes) is taken only when someone wants this fault's events.
        if (explain is null && !RecordFaultEvents)
            return Policy.UserMemAbort(in ctx);
        Stage2Counters before = Stage2.Counters;
        FaultResult result = Policy.UserMemAbort(in ctx);
        LastFaultEvents = Stage2.Counters - before;
        if (explain is not null)
            explain.Events = LastFaultEvents;
        return result;
    }
}
