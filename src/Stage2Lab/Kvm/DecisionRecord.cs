using Stage2Lab.Arch;
using Stage2Lab.PageTables;

namespace Stage2Lab.Kvm;

/// <summary>
/// Everything one fault decided and why, as data: the slot and VMA found, every step with its numbers (see
/// <see cref="DecisionStep"/>), the outcome, the binding constraint, and the page-table events it caused.
/// Built only when someone asks for an explanation, so the fault path allocates nothing otherwise.
/// </summary>
public sealed class DecisionRecord
{
    private readonly List<DecisionStep> _steps = new();

    public string Policy { get; internal set; } = "";

    public ulong Ipa { get; internal set; }

    public AccessKind Access { get; internal set; }

    public MemslotInfo? Slot { get; internal set; }

    public VmaInfo? Vma { get; internal set; }

    public ulong Hva { get; internal set; }

    public FaultResult Result { get; internal set; }

    /// <summary>For a memslot ioctl rather than a fault: which change it was (create, move, ...).</summary>
    public MemslotChange? SlotChange { get; internal set; }

    /// <summary>For a memslot ioctl: its errno (0 when it succeeded).</summary>
    public int SlotErrno { get; internal set; }

    /// <summary>The largest block KVM uses at stage 2 for this VM's granule (1G with 4K pages, 32M with 16K, 512M with 64K).</summary>
    public ulong MaxBlockSizeBytes { get; internal set; }

    /// <summary>The page-table events the fault caused (descriptor writes, TLBIs, cache maintenance).</summary>
    public Stage2Counters Events { get; internal set; }

    public IReadOnlyList<DecisionStep> Steps => _steps;

    /// <summary>
    /// The first step that kept the mapping smaller than the largest block (a failed size test, a forced page, a
    /// backing that is only so large), or null when nothing did: the fault mapped the largest block, or mapped
    /// nothing at all.
    /// </summary>
    public DecisionStep? BindingConstraint
    {
        get
        {
            if (Result.Outcome is not (FaultOutcome.Mapped or FaultOutcome.Relaxed) || Result.SizeBytes >= MaxBlockSizeBytes)
                return null;
            foreach (DecisionStep step in _steps)
            {
                if (step.LimitsSize(MaxBlockSizeBytes))
                    return step;
            }
            return null;
        }
    }

    public void Add(DecisionStep step) => _steps.Add(step);

    /// <summary>Ends the record of a memslot ioctl.</summary>
    internal void EndSlotChange(string policy, Memslot slot, MemslotChange change, int errno, in Stage2Counters events)
    {
        Policy = policy;
        Slot = MemslotInfo.Of(slot);
        Hva = slot.UserspaceAddr;
        Ipa = slot.Ipa;
        SlotChange = change;
        SlotErrno = errno;
        Events = events;
    }

    /// <summary>Starts the record of a new access.</summary>
    internal void Begin(string policy, ulong ipa, AccessKind access, ulong maxBlockSizeBytes)
    {
        Policy = policy;
        Ipa = ipa;
        Access = access;
        MaxBlockSizeBytes = maxBlockSizeBytes;
    }
}
