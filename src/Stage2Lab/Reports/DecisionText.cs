using System.Text;
using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.PageTables;

namespace Stage2Lab.Reports;

/// <summary>A fault's decision record as a short explanation a kernel developer would accept.</summary>
public static class DecisionText
{
    public static string Render(DecisionRecord record)
    {
        var text = new StringBuilder();
        string access = record.Access switch { AccessKind.Read => "read", AccessKind.Write => "write", _ => "instruction fetch" };
        text.Append($"{record.Policy}: guest {access} at IPA {Format.Hex(record.Ipa)}\n");
        if (record.Slot is not null)
            text.Append($"  memslot: {record.Slot}\n");
        if (record.Vma is not null)
            text.Append($"  VMA:     {record.Vma} (HVA {Format.Hex(record.Hva)})\n");
        foreach (DecisionStep step in record.Steps)
        {
            string mark = step.Passed switch { true => "✓", false => "✗", null => "·" };
            text.Append($"  {mark} {step.Function}: {step.Text}\n");
        }
        text.Append("  => ").Append(Outcome(record.Result)).Append('\n');
        string events = Events(record.Events);
        if (events.Length > 0)
            text.Append("  page-table work: ").Append(events).Append('\n');
        return text.ToString();
    }

    public static string Outcome(in FaultResult r) => r.Outcome switch
    {
        FaultOutcome.Hit => "no fault: the access hits an existing mapping",
        FaultOutcome.Mapped => $"map IPA {Format.Hex(r.Ipa)} size {SizeText.Format(r.SizeBytes)} → PA {Format.Hex(r.Pa)} {r.Prot.ToLetters()}{(r.PgtableErrno != 0 ? $" (failed: {Errno.Name(r.PgtableErrno)})" : "")}",
        FaultOutcome.Relaxed => $"relax permissions at IPA {Format.Hex(r.Ipa)} to {r.Prot.ToLetters()}",
        FaultOutcome.Mmio => "exit to the VMM (KVM_EXIT_MMIO)",
        FaultOutcome.Retry => "return to the guest without a change (retry)",
        FaultOutcome.Injected => "abort injected into the guest (IPA beyond the VM's IPA size)",
        _ => r.Errno == Errno.ENOEXEC ? "-ENOEXEC: an abort is injected into the guest" : $"-{Errno.Name(r.Errno)} returned to the VMM",
    };

    public static string Events(in Stage2Counters e)
    {
        var parts = new List<string>();
        void Add(long n, string what)
        {
            if (n != 0)
                parts.Add($"{Format.Count(n)} {what}");
        }
        Add(e[Stage2Counter.DescriptorWrites], "descriptor writes");
        Add(e[Stage2Counter.BreakBeforeMake], "break-before-make");
        Add(e.LeavesInstalled, "leaves installed");
        Add(e[Stage2Counter.TablePagesAllocated], "table pages allocated");
        Add(e[Stage2Counter.TablePagesFreed], "table pages freed");
        Add(e.TlbiTotal, "TLBIs");
        if (e[Stage2Counter.DcacheCleanBytes] != 0)
            parts.Add($"{Format.Bytes(e[Stage2Counter.DcacheCleanBytes])} cleaned to PoC");
        if (e[Stage2Counter.IcacheInvalBytes] != 0)
            parts.Add($"{Format.Bytes(e[Stage2Counter.IcacheInvalBytes])} I-cache invalidated");
        return string.Join(", ", parts);
    }
}
