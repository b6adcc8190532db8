using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Scripts;

namespace Stage2Lab.Simulation.Invariants;

/// <summary>
/// Runs an <see cref="InvariantChecker"/> after every event of an s2faults script and keeps each violation
/// once, attributed to the first event that showed it. Incremental by default (only what each event changed,
/// plus reachability); <c>checkAllAfterEachEvent</c> runs <see cref="InvariantChecker.CheckAll"/> instead, which
/// must find the same kinds (the tests compare both).
/// </summary>
public sealed class ScriptInvariantObserver
{
    private readonly InvariantChecker _checker;
    private readonly bool _checkAll;
    private readonly List<InvariantViolation> _scratch = new();
    private readonly HashSet<(InvariantKind Kind, ulong Ipa, ulong SizeBytes, ulong Raw, int TablePage)> _seen = new();

    public ScriptInvariantObserver(InvariantChecker? checker = null, bool checkAllAfterEachEvent = false)
    {
        _checker = checker ?? new InvariantChecker();
        _checkAll = checkAllAfterEachEvent;
    }

    /// <summary>Every distinct violation, in the order first seen.</summary>
    public List<InvariantViolation> Violations { get; } = new();

    /// <summary>Runs a script with the checker after every event and once more over the final state.</summary>
    public static List<InvariantViolation> Run(ScriptSource source, TextWriter output, bool checkAllAfterEachEvent = false, Func<int, DecisionRecord?>? explainLine = null)
    {
        var observer = new ScriptInvariantObserver(checkAllAfterEachEvent: checkAllAfterEachEvent);
        KvmVm vm = S2FaultsScript.Run(source, output, explainLine: explainLine, afterEvent: observer.OnEvent);
        observer.Finish(vm, source.LineNumber);
        return observer.Violations;
    }

    /// <summary>Checks what one event changed.</summary>
    public void OnEvent(ScriptEvent e)
    {
        KvmVm vm = e.Vm;
        _scratch.Clear();
        switch (e.Kind)
        {
            case ScriptEventKind.Access:
                {
                    FaultResult result = e.Result;
                    _checker.CheckAccess(vm, e.Ipa, e.Access, in result, _scratch, e.Line, e.Decision);
                    break;
                }
            case ScriptEventKind.Dirty:
                if (e.Errno == 0)
                    _checker.NoteDirtyLogHarvested(vm, e.SlotId);
                break;
        }
        if (_checkAll)
        {
            _checker.CheckAll(vm, _scratch, e.Line);
        }
        else
        {
            switch (e.Kind)
            {
                case ScriptEventKind.Slot:
                case ScriptEventKind.SlotDelete:
                case ScriptEventKind.Log:
                case ScriptEventKind.Dirty:
                    // The old range (unmapped on delete or move) and the slot's range now (mapped at creation by
                    // v5.13/v5.9, write-protected by logging and harvests).
                    if (e.OldSizeBytes != 0)
                        _checker.CheckRange(vm, e.OldIpa, e.OldSizeBytes, _scratch, e.Line);
                    Memslot? slot = e.SlotId >= 0 && e.SlotId < vm.Memslots.MaxSlots ? vm.Memslots.ById(e.SlotId) : null;
                    if (slot is not null)
                        _checker.CheckRange(vm, slot.Ipa, slot.SizeBytes, _scratch, e.Line);
                    break;
                case ScriptEventKind.Munmap:
                    _checker.CheckHvaRange(vm, e.Hva, e.SizeBytes, _scratch, e.Line);
                    break;
            }
            if (!(e.Kind == ScriptEventKind.Access && e.Result.Outcome == FaultOutcome.Hit))
                _checker.CheckTableReachability(vm, _scratch, e.Line);
        }
        Keep(_scratch);
    }

    /// <summary>A last full check of the final state (it finds nothing new when every event was observed).</summary>
    public void Finish(KvmVm vm, int lastLine)
    {
        _scratch.Clear();
        _checker.CheckAll(vm, _scratch, lastLine);
        Keep(_scratch);
    }

    private void Keep(List<InvariantViolation> found)
    {
        foreach (InvariantViolation v in found)
        {
            if (_seen.Add((v.Kind, v.Ipa, v.SizeBytes, v.Leaf?.Descriptor.Raw ?? 0, v.TablePageId)))
                Violations.Add(v);
        }
    }
}
