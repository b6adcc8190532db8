using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Stage2Lab.PageTables;

/// <summary>
/// A hint to the host CPU to bring a table entry into its cache ahead of the walk that will read it: a
/// random workload over a BAR mapped page by page (8,388,608 leaves for 32 GiB) misses the cache at each
/// access's last-level entry, and a player that knows the next accesses lets those misses overlap. The
/// model's own speed only: nothing is read, written or counted. On a CPU without the instruction, nothing.
/// </summary>
internal static class EntryPrefetch
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Prefetch(ReadOnlySpan<ulong> table, int index)
    {
        if (Sse.IsSupported && (uint)index < (uint)table.Length)
        {
            // The address is only a hint: an entry of a page the GC moves meanwhile is at worst a useless fetch.
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetReference(table), index)));
        }
    }
}
