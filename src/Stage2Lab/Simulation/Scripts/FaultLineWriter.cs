using Stage2Lab.Arch;
using Stage2Lab.Kvm;

namespace Stage2Lab.Simulation.Scripts;

/// <summary>The `access` line of s2faults output: `access LINE hit` or `access LINE tfL1 -> map ...`.</summary>
public static class FaultLineWriter
{
    public static void Write(TextWriter output, int line, in FaultResult result)
    {
        output.Write("access ");
        output.Write(line);
        if (result.Outcome == FaultOutcome.Hit)
        {
            output.Write(" hit\n");
            return;
        }
        output.Write(result.Status == FaultStatus.Permission ? " pfL" : " tfL");
        output.Write(result.FaultLevel);
        output.Write(" -> ");
        switch (result.Outcome)
        {
            case FaultOutcome.Mapped:
                output.Write("map 0x");
                output.Write(result.Ipa.ToString("x"));
                output.Write(" 0x");
                output.Write(result.SizeBytes.ToString("x"));
                output.Write(" 0x");
                output.Write(result.Pa.ToString("x"));
                output.Write(' ');
                output.Write(result.Prot.ToLetters());
                break;
            case FaultOutcome.Relaxed:
                output.Write("relax 0x");
                output.Write(result.Ipa.ToString("x"));
                output.Write(' ');
                output.Write(result.Prot.ToLetters());
                break;
            case FaultOutcome.Mmio:
                output.Write("mmio");
                break;
            case FaultOutcome.Retry:
                output.Write("retry");
                break;
            case FaultOutcome.Injected:
                output.Write("inject");
                break;
            case FaultOutcome.ForwardedToL1:
                output.Write("l1-fault"); // only an L2 guest's access (scenarios), never a script line
                break;
            default:
                output.Write("error ");
                output.Write(result.Errno == 0 && result.TouchedNonRamPage ? "?" : Errno.Name(result.Errno));
                break;
        }
        if (result.PgtableErrno != 0)
        {
            output.Write(" error ");
            output.Write(Errno.Name(result.PgtableErrno));
        }
        if (result.TouchedNonRamPage)
            output.Write(" !page-of-nonram-pfn");
        output.Write('\n');
    }
}
