using System.Runtime.InteropServices;

namespace Stage2Lab.PageTables;

/// <summary>
/// Pinned, zeroed memory for many table pages at once: <see cref="Memory"/>[<see cref="Start"/> ..
/// <see cref="End"/>), which Linux is asked to back with transparent huge pages. A table built page by page
/// touches every byte of its pages once (512 MiB for a 256 GiB BAR under 5.13); with 4 KiB host pages that is
/// one page fault per table page (131,072 of them, most of the slot-creation time), with 2 MiB ones one per
/// 512. Hosts where THP is "madvise" (the common default) only give huge pages to ranges marked MADV_HUGEPAGE
/// (Documentation/admin-guide/mm/transhuge.rst). The hint changes nothing the model computes: elsewhere, or
/// if refused, the slab is ordinary memory.
/// </summary>
internal readonly record struct TableSlab(ulong[] Memory, int Start, int End)
{
    private const int HugePageBytes = 2 << 20;
    private const int HugePageEntries = HugePageBytes / sizeof(ulong);
    private const int MadvHugepage = 14;

    private static bool s_adviseFailed;

    /// <summary>A slab of <paramref name="entries"/> zeroed entries.</summary>
    public static TableSlab Allocate(int entries)
    {
        bool huge = entries >= 2 * HugePageEntries && OperatingSystem.IsLinux() && !s_adviseFailed;
        if (!huge)
            return new TableSlab(GC.AllocateArray<ulong>(entries, pinned: true), 0, entries);

        // A huge page is only used for a whole, aligned 2 MiB range none of which has been touched: the array's
        // header (written by the allocation) would spoil the first one. So the slab starts at the first
        // huge-page boundary in the array, the pad before it is never touched (no memory behind it), and a slab
        // of whole huge pages ends on a boundary too. Fresh from the GC, nothing else of it has been touched.
        ulong[] memory = GC.AllocateArray<ulong>(entries + HugePageEntries, pinned: true);
        nint address = Marshal.UnsafeAddrOfPinnedArrayElement(memory, 0);
        nint aligned = (address + HugePageBytes - 1) & ~(nint)(HugePageBytes - 1);
        int start = (int)((aligned - address) / sizeof(ulong));
        int end = start + entries;
        nint last = (aligned + (nint)entries * sizeof(ulong)) & ~(nint)(HugePageBytes - 1);
        try
        {
            _ = Madvise(aligned, (nuint)(last - aligned), MadvHugepage);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            s_adviseFailed = true;
        }
        return new TableSlab(memory, start, end);
    }

    [DllImport("libc", EntryPoint = "madvise")]
    private static extern int Madvise(nint address, nuint length, int advice);
}
