using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Playback;

/// <summary>Why KVM or the host refused an event: the errno and, as data, the kernel's reason (or the host's).</summary>
public readonly record struct EventRefusal(int Errno, KvmRefusal? Kvm, string? HostReason);

/// <summary>What one non-access timeline event did: the refusal if the kernel refused it, the pages a dirty-log
/// harvest reported, and for KVM_CLEAR_DIRTY_LOG the page range it covered (0 pages in the scenario = the rest
/// of the slot, resolved here once).</summary>
public readonly record struct EventOutcome(EventRefusal? Refusal, long DirtyPagesHarvested, ulong ClearFirstPage = 0, ulong ClearNumPages = 0);

/// <summary>Applies one timeline event (other than guest accesses) to a VM, as the VMM's ioctl or the MMU
/// notifier would.</summary>
public static class EventApplier
{
    public static EventOutcome Apply(KvmVm vm, TimelineEvent ev, List<ulong>? gfnScratch = null, DecisionRecord? explain = null)
    {
        switch (ev)
        {
            case SlotCreateEvent c:
                return Of(vm.SetUserMemoryRegion(c.Slot.Id, c.Slot.Ipa, c.Slot.SizeBytes, c.Slot.Hva, c.Slot.Flags, explain));
            case SlotDeleteEvent d:
                return Of(vm.DeleteSlot(d.SlotId));
            case SlotMoveEvent m:
                {
                    Memslot? slot = vm.Memslots.ById(m.SlotId);
                    return Of(slot is null
                        ? KvmResult.Fail(Errno.EINVAL, new NoSuchSlot(m.SlotId))
                        : vm.SetUserMemoryRegion(m.SlotId, m.Ipa, slot.SizeBytes, slot.UserspaceAddr, slot.Flags, explain));
                }
            case DirtyLogEvent l:
                return Of(vm.SetDirtyLogging(l.SlotId, l.Enable));
            case GetDirtyLogEvent g:
                {
                    List<ulong> gfns = gfnScratch ?? new List<ulong>();
                    gfns.Clear();
                    EventOutcome o = Of(vm.GetDirtyLog(g.SlotId, gfns));
                    return o with { DirtyPagesHarvested = gfns.Count };
                }
            case ClearDirtyLogEvent c:
                {
                    Memslot? slot = vm.Memslots.ById(c.SlotId);
                    ulong pages = c.NumPages != 0 ? c.NumPages : (slot?.NPages ?? 0) - Math.Min(c.FirstPage, slot?.NPages ?? 0);
                    long harvested = slot?.DirtyBitmap?.CountSet() ?? 0;
                    return Of(vm.ClearDirtyLog(c.SlotId, c.FirstPage, pages)) with
                    {
                        DirtyPagesHarvested = harvested,
                        ClearFirstPage = c.FirstPage,
                        ClearNumPages = pages,
                    };
                }
            case UnmapEvent u when u.Zap:
                vm.ZapHvaRange(u.Hva, u.SizeBytes);
                return default;
            case UnmapEvent u:
                {
                    HostResult r = vm.Munmap(u.Hva, u.SizeBytes);
                    return r.Succeeded ? default : new EventOutcome(new EventRefusal(r.Errno, null, r.Message), 0);
                }
            case AgeEvent a:
                vm.AgeHvaRange(a.Hva, a.SizeBytes);
                return default;
            case TeardownEvent:
                vm.Teardown();
                return default;
            default:
                throw new ArgumentException($"{ev.Kind} is not applied here (guest accesses are run by the player)", nameof(ev));
        }
    }

    private static EventOutcome Of(KvmResult r) => r.Succeeded ? default : new EventOutcome(new EventRefusal(r.Errno, r.Refusal, null), 0);
}
