using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Runs;

/// <summary>Looks at the VM after every access and every event of a run (an invariant checker).</summary>
public interface IRunChecker
{
    /// <summary>True once something is wrong; a run with StopOnViolation then stops.</summary>
    bool Failed { get; }

    void AfterAccess(KvmVm vm, ulong ipa, AccessKind access, in FaultResult result, int eventNumber, long accessIndex);

    /// <summary>After a non-access event; <paramref name="ev"/> is null for the memslot creation phase (event 0).</summary>
    void AfterEvent(KvmVm vm, TimelineEvent? ev, int eventNumber);

    /// <summary>At the end of the timeline, before teardown: whatever is only checked whole.</summary>
    void Finish(KvmVm vm, int eventNumber);
}
