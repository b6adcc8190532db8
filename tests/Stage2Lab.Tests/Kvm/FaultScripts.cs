using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.Kvm.Policies;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Scripts;

namespace Stage2Lab.Tests.Kvm;

/// <summary>
/// Helpers for the hand-computed policy tests: run a small .s2faults text and get its output lines, or build a
/// host + VM through the library API.
/// </summary>
internal static class FaultScripts
{
    /// <summary>The policies, oldest kernel first (kernels and proposals, from the registry: a new policy joins every theory).</summary>
    public static readonly string[] AllPolicies = [.. PolicyRegistry.ComparedNames];

    /// <summary>Runs <paramref name="text"/> (with every "POLICY" replaced) and returns the output lines.</summary>
    public static string[] Run(string text, string? policy = null) => Run(text, policy, out _);

    public static string[] Run(string text, string? policy, out KvmVm vm)
    {
        if (policy is not null)
            text = text.Replace("POLICY", policy, StringComparison.Ordinal);
        using var source = ScriptSource.FromText(text, "t.s2faults");
        var output = new StringWriter { NewLine = "\n" };
        vm = S2FaultsScript.Run(source, output);
        return output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>Asserts the output equals the expected lines, showing both on failure.</summary>
    public static void AssertLines(string[] expected, string[] actual)
    {
        Assert.Equal(string.Join("\n", expected), string.Join("\n", actual));
    }

    /// <summary>A host with 16G of RAM at 2G and the given granule (48-bit VA unless told).</summary>
    public static HostAddressSpace NewHost(Granule granule, int vaBits = 48, ulong ramBase = 0x80000000, ulong ramSize = 16UL << 30)
    {
        var memory = new PhysicalMemory();
        Assert.True(memory.AddRam(ramBase, ramSize).Succeeded);
        return new HostAddressSpace(new HostPageTableConfig(granule, vaBits), memory);
    }

    public static KvmVm NewVm(HostAddressSpace host, string policy, int ipaBits = 40, bool fwb = false, bool dic = true) =>
        new(new VmConfig
        {
            Granule = host.Config.Granule,
            IpaBits = ipaBits,
            Features = new CpuFeatures(Fwb: fwb, Dic: dic, RangeTlbi: false),
            MaxSlots = 512,
        }, host, PolicyRegistry.Create(policy));

    public static Vma PfnMap(ulong start, ulong size, ulong pgoff, bool cacheable = false) => new()
    {
        Start = start,
        End = start + size,
        Kind = VmaKind.PfnMap,
        PgOff = pgoff,
        Cacheable = cacheable,
        Flags = VmFlags.Read | VmFlags.Write | VmFlags.Shared,
    };

    public static Vma Anon(ulong start, ulong size, ulong pa, bool thp = false) => new()
    {
        Start = start,
        End = start + size,
        Kind = VmaKind.Anonymous,
        BasePa = pa,
        Thp = thp,
    };

    public static Vma Hugetlb(ulong start, ulong size, ulong hugePageSize, ulong pa) => new()
    {
        Start = start,
        End = start + size,
        Kind = VmaKind.Hugetlb,
        HugePageSize = hugePageSize,
        BasePa = pa,
    };

    /// <summary>Every valid stage-2 leaf, in IPA order.</summary>
    public static List<LeafEntry> Leaves(KvmVm vm) => Leaves(vm.Stage2);

    /// <summary>Every valid leaf of a stage-2 table (a shadow one too), in IPA order.</summary>
    public static List<LeafEntry> Leaves(Stage2PageTable pgt)
    {
        var sink = new CollectingSink(new List<LeafEntry>());
        pgt.VisitLeaves(ref sink);
        return sink.Leaves;
    }

    private readonly struct CollectingSink : ILeafSink
    {
        public CollectingSink(List<LeafEntry> leaves) => Leaves = leaves;

        public List<LeafEntry> Leaves { get; }

        public void OnLeaf(in LeafEntry leaf) => Leaves.Add(leaf);
    }
}
