using CsCheck;

namespace Stage2Lab.Simulation.Fuzzing;

/// <summary>The raw random choices one VMA of a fuzz case is built from (0 is always the simplest choice).</summary>
public readonly record struct VmaChoice(uint Kind, uint Size, uint Align, uint Flags, uint Extra);

/// <summary>The raw random choices of one timeline event.</summary>
public readonly record struct EventChoice(uint Kind, uint A, uint B, uint C);

/// <summary>
/// A fuzz case as CsCheck generates and shrinks it: a handful of numbers that <see cref="FuzzCaseBuilder"/> turns
/// into a host, VMAs, memslots and a timeline. CsCheck shrinks lists shorter and numbers towards zero, and
/// zero always builds the simplest thing, so shrinking the choices simplifies the scenario.
/// </summary>
public sealed record CaseChoice(uint Granule, uint IpaSize, VmaChoice[] Vmas, EventChoice[] Events)
{
    public static Gen<CaseChoice> Generator(int maxEvents)
    {
        Gen<VmaChoice> vma = Gen.Select(Gen.UInt, Gen.UInt, Gen.UInt, Gen.UInt, Gen.UInt, (k, s, a, f, e) => new VmaChoice(k, s, a, f, e));
        Gen<EventChoice> ev = Gen.Select(Gen.UInt, Gen.UInt, Gen.UInt, Gen.UInt, (k, a, b, c) => new EventChoice(k, a, b, c));
        return Gen.Select(Gen.UInt[0, 9], Gen.UInt[0, 3], vma.Array[1, 4], ev.Array[1, maxEvents], (g, i, v, e) => new CaseChoice(g, i, v, e));
    }

    /// <summary>
    /// The case <see cref="Generator"/> generates from <paramref name="pcg"/>, drawn the way CsCheck 5 draws it
    /// (the same numbers from the PCG in the same order) but without CsCheck's size tree: a campaign draws millions
    /// of cases and needs a case's size only to shrink the one that fails, and the tree was a fifth of what a case
    /// allocated. Tests check that both give the same cases; a CsCheck that draws otherwise fails them.
    /// </summary>
    public static CaseChoice Draw(PCG pcg, int maxEvents)
    {
        // Gen.UInt[a, b] and Gen.Int[a, b]: a + pcg.Next(b - a + 1); arrays: the length, then the elements.
        uint granule = pcg.Next(10);
        uint ipaSize = pcg.Next(4);
        var vmas = new VmaChoice[1 + (int)pcg.Next(4)];
        for (int i = 0; i < vmas.Length; i++)
        {
            uint kind = UInt(pcg), size = UInt(pcg), align = UInt(pcg), flags = UInt(pcg), extra = UInt(pcg);
            vmas[i] = new VmaChoice(kind, size, align, flags, extra);
        }
        var events = new EventChoice[1 + (int)pcg.Next((uint)maxEvents)];
        for (int i = 0; i < events.Length; i++)
        {
            uint kind = UInt(pcg), a = UInt(pcg), b = UInt(pcg), c = UInt(pcg);
            events[i] = new EventChoice(kind, a, b, c);
        }
        return new CaseChoice(granule, ipaSize, vmas, events);
    }

    /// <summary>Gen.UInt: a magnitude of 0 to 31 bits, then that many random bits (small numbers as often as
    /// large), or uint.MaxValue once in 64 draws.</summary>
    private static uint UInt(PCG pcg)
    {
        uint first = pcg.Next(), second = pcg.Next();
        if ((first & 0x7E0U) == 0)
            return uint.MaxValue;
        int bits = (int)(first & 31U);
        uint top = 1U << bits;
        return ((second & (top - 1)) | top) - 1;
    }
}
