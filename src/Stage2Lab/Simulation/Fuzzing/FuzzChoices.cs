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
}
