using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Stage2Lab.Simulation.Tlb;

/// <summary>Compares the eight 64-bit tags of one cache line with a value at once (one 512-bit compare, two of 256
/// or four of 128 bits, whichever the CPU has), so a TLB search has no loop over ways and no data-dependent branch.</summary>
internal static class TagLine
{
    /// <summary>Tags per 64-byte line.</summary>
    public const int Slots = 8;

    /// <summary>The slots of the line at <paramref name="line"/> equal to <paramref name="value"/>, as 8 bits (bit i: slot i).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Matches(ref ulong line, ulong value)
    {
        if (Vector512.IsHardwareAccelerated)
            return (uint)Vector512.Equals(Vector512.LoadUnsafe(ref line), Vector512.Create(value)).ExtractMostSignificantBits();
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<ulong> v = Vector256.Create(value);
            return Vector256.Equals(Vector256.LoadUnsafe(ref line), v).ExtractMostSignificantBits()
                | Vector256.Equals(Vector256.LoadUnsafe(ref line, 4), v).ExtractMostSignificantBits() << 4;
        }
        Vector128<ulong> w = Vector128.Create(value);
        return Vector128.Equals(Vector128.LoadUnsafe(ref line), w).ExtractMostSignificantBits()
            | Vector128.Equals(Vector128.LoadUnsafe(ref line, 2), w).ExtractMostSignificantBits() << 2
            | Vector128.Equals(Vector128.LoadUnsafe(ref line, 4), w).ExtractMostSignificantBits() << 4
            | Vector128.Equals(Vector128.LoadUnsafe(ref line, 6), w).ExtractMostSignificantBits() << 6;
    }
}
