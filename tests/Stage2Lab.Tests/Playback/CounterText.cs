using System.Text;
using Stage2Lab.Kvm;
using Stage2Lab.PageTables;

namespace Stage2Lab.Tests.Playback;

/// <summary>A VM's fault counters and its stage 2's counters as one line each, for tests that compare two plays.</summary>
internal static class CounterText
{
    public static void AppendCounters(this StringBuilder text, KvmVm vm)
    {
        object counters = vm.Counters;
        foreach (System.Reflection.FieldInfo f in typeof(VmCounters).GetFields())
            text.Append(' ').Append(f.GetValue(counters));
        text.Append('\n');
        Stage2Counters c = vm.Stage2.Counters;
        for (int i = 0; i < Stage2Counters.Count; i++)
            text.Append(c[(Stage2Counter)i]).Append(' ');
        text.Append('\n');
    }
}
