using System.Runtime.InteropServices;

namespace Stage2Lab.PageTables;

/// <summary>
/// Pinned, zeroed memory for many table pages at once, which Linux is asked to back with transparent huge
/// pages. A table built page by page touches every byte of its pages once (512 MiB for a 256 GiB BAR under
/// 5.13); with 4 KiB host pages that is one page fault per table page (131,072 of them, most of the
/// slot-creation time), with 2 MiB ones one per 512. Hosts where THP is "madvise" (the common default) only
/// give huge pages to ranges marked MADV_HUGEPAGE (Documentation/admin-guide/mm/transhuge.rst). The hint
/// changes nothing the model computes: elsewhere, or if refused, the slab is ordinary memory.
/// </summary>
internal static class TableSlab
{
    /// <summary>Slabs this large or larger hold at least one whole huge page worth asking for.</summary>
    private const int HugePageBytes = 2 << 20;

    private const int MadvHugepage = 14;

    private static bool s_adviseFailed;

    public static ulong[] Allocate(int entries)
    {
        // Fresh from the GC, the array's memory has not been touched yet: marking it now makes its first-touch
        // faults the huge ones.
        ulong[] slab = GC.AllocateArray<ulong>(entries, pinned: true);
        if (entries * (long)sizeof(ulong) >= 2L * HugePageBytes && OperatingSystem.IsLinux() && !s_adviseFailed)
            AdviseHugePages(slab);
        return slab;
    }

    private static void AdviseHugePages(ulong[] slab)
    {
        // Only whole, aligned huge pages inside the slab: the GC's memory around it stays as it was.
        nint start = Marshal.UnsafeAddrOfPinnedArrayElement(slab, 0);
        nint end = start + (nint)(slab.LongLength * sizeof(ulong));
        nint first = (start + HugePageBytes - 1) & ~(nint)(HugePageBytes - 1);
        nint last = end & ~(nint)(HugePageBytes - 1);
        if (last <= first)
            return;
        try
        {
            _ = Madvise(first, (nuint)(last - first), MadvHugepage);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            s_adviseFailed = true;
        }
    }

    [DllImport("libc", EntryPoint = "madvise")]
    private static extern int Madvise(nint address, nuint length, int advice);
}
