using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Invariants;
using Stage2Lab.Simulation.Scripts;

namespace Stage2Lab.Tests.Invariants;

/// <summary>Builds real VM states from s2faults text and reads the invariant kinds they break.</summary>
internal static class InvariantTestKit
{
    /// <summary>The host every layout below starts from (s2faults header and one RAM range).</summary>
    public const string Ram = "granule 4K\nipa-bits 40\nram 0x80000000 16G\n";

    /// <summary>Runs a script with the checker after every event; returns the VM and what it found.</summary>
    public static (KvmVm Vm, List<InvariantViolation> Violations) Run(string script, bool checkAllAfterEachEvent = false)
    {
        var observer = new ScriptInvariantObserver(checkAllAfterEachEvent: checkAllAfterEachEvent);
        using ScriptSource source = ScriptSource.FromText(script, "test.s2faults");
        KvmVm vm = S2FaultsScript.Run(source, TextWriter.Null, afterEvent: observer.OnEvent);
        observer.Finish(vm, source.LineNumber);
        return (vm, observer.Violations);
    }

    /// <summary>Builds the VM a script describes (events run, nothing checked).</summary>
    public static KvmVm Build(string script)
    {
        using ScriptSource source = ScriptSource.FromText(script, "test.s2faults");
        return S2FaultsScript.Run(source, TextWriter.Null);
    }

    public static SortedSet<InvariantKind> Kinds(IEnumerable<InvariantViolation> violations) => new(violations.Select(v => v.Kind));

    public static SortedSet<InvariantKind> KindsOf(string script) => Kinds(Run(script).Violations);

    public static List<InvariantViolation> CheckAll(KvmVm vm)
    {
        var found = new List<InvariantViolation>();
        new InvariantChecker().CheckAll(vm, found);
        return found;
    }

    public static SortedSet<InvariantKind> Set(params InvariantKind[] kinds) => new(kinds);

    /// <summary>The table page a table descriptor at <paramref name="level"/> points to for <paramref name="ipa"/>.</summary>
    public static int TableBelow(Stage2PageTable pgt, ulong ipa, int level, out int parentId, out int parentIndex)
    {
        Granule granule = pgt.Granule;
        int id = pgt.RootId(pgt.Geometry.RootPageIndex(ipa));
        for (int l = pgt.Geometry.StartLevel; ; l++)
        {
            int index = granule.IndexAt(ipa, l);
            ulong raw = pgt.Pool.Page(id)[index];
            Assert.True(new Descriptor(raw).IsTable(l), $"no table below L{l} for IPA 0x{ipa:x}");
            if (l == level)
            {
                parentId = id;
                parentIndex = index;
                return pgt.Pool.IdOf(raw & pgt.AddressMask);
            }
            id = pgt.Pool.IdOf(raw & pgt.AddressMask);
        }
    }
}
