namespace Stage2Lab.Simulation.Workloads;

/// <summary>A small, fast, fully specified random generator (SplitMix64), so a seed gives the same accesses
/// on every machine and .NET version.</summary>
public struct SplitMix64
{
    private ulong _state;

    public SplitMix64(ulong seed) => _state = seed;

    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, bound) (Lemire's multiply-shift: the high half of the 128-bit product; bias below
    /// 2^-64·bound). Math.BigMul is one MUL/MULX where a UInt128 product is a call per draw.</summary>
    public ulong NextBelow(ulong bound) => bound == 0 ? 0 : Math.BigMul(Next(), bound, out _);

    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));
}
