using Stage2Lab.Arch;
using Stage2Lab.Kvm;

namespace Stage2Lab.Simulation.Scripts;

/// <summary>The kind of an s2faults event line.</summary>
public enum ScriptEventKind : byte
{
    Slot,
    SlotDelete,
    Log,
    Dirty,
    Access,
    Munmap,
}

/// <summary>
/// One s2faults event after it ran, for an observer (an invariant checker) that wants to look at what it
/// changed: the line, the VM, and the addresses the event touched.
/// </summary>
public readonly struct ScriptEvent
{
    public required int Line { get; init; }

    public required ScriptEventKind Kind { get; init; }

    public required KvmVm Vm { get; init; }

    /// <summary>slot, slot-delete, log, dirty: the slot id; otherwise -1.</summary>
    public int SlotId { get; init; }

    /// <summary>slot, slot-delete, log: the slot's IPA range before the event (size 0 when it had none).</summary>
    public ulong OldIpa { get; init; }

    public ulong OldSizeBytes { get; init; }

    /// <summary>access: the IPA accessed.</summary>
    public ulong Ipa { get; init; }

    /// <summary>munmap: the HVA range.</summary>
    public ulong Hva { get; init; }

    public ulong SizeBytes { get; init; }

    public AccessKind Access { get; init; }

    /// <summary>access: what the access came to.</summary>
    public FaultResult Result { get; init; }

    /// <summary>access: the explanation, when the run asked for one for this line.</summary>
    public DecisionRecord? Decision { get; init; }

    /// <summary>Non-access events: 0, or the positive errno the event failed with.</summary>
    public int Errno { get; init; }
}
