using Stage2Lab.Arch;

namespace Stage2Lab.Simulation.Workloads;

/// <summary>A workload's accesses, generated once and kept (immutable: the runs that share it only read it).</summary>
public sealed class AccessStream
{
    private readonly ulong[] _ipas;
    private readonly AccessKind[] _kinds;

    private AccessStream(ulong[] ipas, AccessKind[] kinds)
    {
        _ipas = ipas;
        _kinds = kinds;
    }

    public int Count => _ipas.Length;

    public ReadOnlySpan<ulong> Ipas => _ipas;

    public ReadOnlySpan<AccessKind> Kinds => _kinds;

    /// <summary>Bytes the stream holds.</summary>
    public long SizeBytes => (long)_ipas.Length * (sizeof(ulong) + sizeof(AccessKind));

    /// <summary>Runs <paramref name="generator"/> to its end: <paramref name="accesses"/>, its total.</summary>
    internal static AccessStream Generate(AccessGenerator generator, int accesses)
    {
        var ipas = new ulong[accesses];
        var kinds = new AccessKind[accesses];
        int n = 0;
        while (n < accesses && generator.Next(out ulong ipa, out AccessKind kind))
        {
            ipas[n] = ipa;
            kinds[n] = kind;
            n++;
        }
        if (n != accesses)
            throw new InvalidOperationException($"the workload made {n} accesses where it said {accesses}");
        return new AccessStream(ipas, kinds);
    }
}
