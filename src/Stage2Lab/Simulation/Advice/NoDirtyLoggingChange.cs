using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Advice;

/// <summary>
/// no-dirty-logging: the slot without KVM_MEM_LOG_DIRTY_PAGES. While a slot is logged every fault maps a page
/// (user_mem_abort: force_pte; 7.x: max_map_size = PAGE_SIZE) so that each write is seen; without logging, faults
/// map blocks again. The change drops the flag and the slot's dirty-log events.
/// </summary>
public sealed record NoDirtyLoggingChange(int Slot, bool LoggedFromCreation, int EventsDropped) : ScenarioChange
{
    public override ChangeKind Kind => ChangeKind.NoDirtyLogging;

    public override int? SlotId => Slot;

    public override IReadOnlyList<string> Mappings => [];

    public override string Key => $"no-dirty-logging:{Slot}";

    protected override void ApplyTo(Scenario copy)
    {
        foreach (MemslotSpec slot in ScenarioLayout.SlotSpecs(copy, Slot))
            slot.Flags &= ~MemslotFlags.LogDirtyPages;
        copy.Timeline.RemoveAll(ev => IsLogEvent(ev, Slot));
    }

    /// <summary>The slot without logging, when the scenario logs it; null otherwise.</summary>
    public static NoDirtyLoggingChange? Propose(Scenario s, DecisionRecord record)
    {
        if (record.Slot is not { } slot)
            return null;
        bool fromCreation = ScenarioLayout.SlotSpecs(s, slot.Id).Any(x => (x.Flags & MemslotFlags.LogDirtyPages) != 0);
        int events = s.Timeline.Count(ev => IsLogEvent(ev, slot.Id));
        return fromCreation || events > 0 ? new NoDirtyLoggingChange(slot.Id, fromCreation, events) : null;
    }

    private static bool IsLogEvent(TimelineEvent ev, int slot) => ev switch
    {
        DirtyLogEvent l => l.SlotId == slot,
        GetDirtyLogEvent g => g.SlotId == slot,
        ClearDirtyLogEvent c => c.SlotId == slot,
        _ => false,
    };
}
