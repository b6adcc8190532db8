using System.Text;
using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.Kvm.Policies;
using Stage2Lab.PageTables;

namespace Stage2Lab.Benchmarks;

/// <summary>The inputs every benchmark and the figures mode share: tables, VMs, scripts, seeded random IPAs.</summary>
internal static class Workloads
{
    public const ulong KiB = 1UL << 10;
    public const ulong MiB = 1UL << 20;
    public const ulong GiB = 1UL << 30;

    /// <summary>Where the benchmarks map guest memory (1 GiB-aligned, so a 1 GiB block fits).</summary>
    public const ulong GuestIpa = 0x40000000;

    /// <summary>The PA the maps point at (1 GiB-aligned).</summary>
    public const ulong MapPa = 0x80000000;

    /// <summary>The VMM's HVA of guest RAM (1 GiB-aligned).</summary>
    public const ulong GuestHva = 0x7f0000000000;

    /// <summary>Host RAM backing the guest.</summary>
    public const ulong HostRamBase = 0x80000000;

    public const int Seed = 20210607;

    /// <summary>A 4K-granule, 40-bit table with the script formats' CPU features (FWB off, DIC on).</summary>
    public static Stage2PageTable NewTable() => new(Granule.Size4K, 40, CpuFeatures.Default);

    /// <summary>Maps [ipa, ipa+size) one call per <paramref name="step"/>, as kvm_phys_addr_ioremap does per page.</summary>
    public static void MapInSteps(Stage2PageTable pgt, MemoryCache cache, ulong ipa, ulong sizeBytes, ulong pa, ulong step)
    {
        for (ulong off = 0; off < sizeBytes; off += step)
        {
            int ret = pgt.Map(ipa + off, step, pa + off, Prot.RW, cache);
            if (ret != 0)
                throw new InvalidOperationException($"map 0x{ipa + off:x} failed: {Errno.Name(ret)}");
        }
    }

    /// <summary><paramref name="count"/> random IPAs in [base, base+span), seeded, 8-byte aligned.</summary>
    public static ulong[] RandomIpas(int count, ulong baseIpa, ulong span, int seed = Seed)
    {
        var random = new Random(seed);
        var ipas = new ulong[count];
        for (int i = 0; i < ipas.Length; i++)
            ipas[i] = baseIpa + ((ulong)random.NextInt64((long)span) & ~7UL);
        return ipas;
    }

    /// <summary>Every page of [base, base+span) once, in a seeded random order.</summary>
    public static ulong[] ShuffledPages(ulong baseIpa, ulong span, ulong page, int seed = Seed)
    {
        var pages = new ulong[span / page];
        for (int i = 0; i < pages.Length; i++)
            pages[i] = baseIpa + (ulong)i * page;
        new Random(seed).Shuffle(pages);
        return pages;
    }

    /// <summary>
    /// The replay script of issue 2: <paramref name="rounds"/> rounds of mapping 1 GiB at one IPA as 4K pages
    /// (one map line per page), each round optionally followed by an unmap of the whole GiB.
    /// </summary>
    public static void WriteMapScript(TextWriter output, int rounds, bool unmapAfterEachRound)
    {
        const ulong pages = GiB / (4 * KiB);
        Span<char> line = stackalloc char[80];
        for (int round = 0; round < rounds; round++)
        {
            for (ulong i = 0; i < pages; i++)
            {
                int n = Format(line, GuestIpa + i * 4 * KiB, MapPa + i * 4 * KiB);
                output.Write(line[..n]);
            }
            if (unmapAfterEachRound)
                output.Write($"unmap 0x{GuestIpa:x} 0x{GiB:x}\n");
        }
    }

    private static int Format(Span<char> line, ulong ipa, ulong pa)
    {
        int n = 0;
        "map 0x".CopyTo(line);
        n += 6;
        ipa.TryFormat(line[n..], out int w, "x");
        n += w;
        " 0x1000 0x".CopyTo(line[n..]);
        n += 10;
        pa.TryFormat(line[n..], out w, "x");
        n += w;
        " rw\n".CopyTo(line[n..]);
        return n + 4;
    }

    /// <summary>The 262,144 map lines of one round (no header, no unmap): exactly 262,144 lines.</summary>
    public static byte[] OneRoundScriptBytes()
    {
        var text = new StringWriter(new StringBuilder(262144 * 40)) { NewLine = "\n" };
        WriteMapScript(text, rounds: 1, unmapAfterEachRound: false);
        return Encoding.ASCII.GetBytes(text.ToString());
    }

    /// <summary>
    /// A host with <paramref name="ramBytes"/> of RAM and one anonymous VMA of <paramref name="guestBytes"/>
    /// (THP or not) at <see cref="GuestHva"/>, and a v6.18 VM with one slot mapping it at <see cref="GuestIpa"/>.
    /// </summary>
    public static KvmVm NewRamVm(ulong guestBytes, bool thp, string policy = "v6.18", VmFlavor flavor = VmFlavor.Kvm)
    {
        var memory = new PhysicalMemory();
        Check(memory.AddRam(HostRamBase, guestBytes));
        var host = new HostAddressSpace(new HostPageTableConfig(Granule.Size4K), memory);
        Check(host.AddVma(new Vma { Start = GuestHva, End = GuestHva + guestBytes, Kind = VmaKind.Anonymous, BasePa = HostRamBase, Thp = thp }));
        var vm = new KvmVm(new VmConfig { Granule = Granule.Size4K, IpaBits = 40, Flavor = flavor }, host, PolicyRegistry.Create(policy));
        Check(vm.SetUserMemoryRegion(0, GuestIpa, guestBytes, GuestHva, MemslotFlags.None));
        return vm;
    }

    /// <summary>Where <see cref="NewBarVm"/> puts the BAR: host PA, VMM HVA and guest IPA (all 1 GiB-aligned).</summary>
    public const ulong BarPa = 0x100_0000_0000, BarHva = 0x7f40_0000_0000, BarIpa = 0x80_0000_0000;

    /// <summary>
    /// A host with a PCI BAR of <paramref name="barBytes"/> mmap'ed by the VMM as one VM_PFNMAP|VM_IO VMA
    /// (vm_pgoff = the BAR's PFN), and a 4K-granule, 40-bit VM under <paramref name="policy"/> with one slot
    /// over it at <see cref="BarIpa"/>: before 5.14 creating the slot maps the whole BAR, page by page.
    /// </summary>
    public static KvmVm NewBarVm(ulong barBytes, string policy)
    {
        var memory = new PhysicalMemory();
        Check(memory.AddRam(HostRamBase, GiB));
        Check(memory.AddDevice("bar", BarPa, barBytes));
        var host = new HostAddressSpace(new HostPageTableConfig(Granule.Size4K), memory);
        Check(host.AddVma(new Vma
        {
            Start = BarHva,
            End = BarHva + barBytes,
            Kind = VmaKind.PfnMap,
            PgOff = BarPa >> 12,
            Flags = VmFlags.Read | VmFlags.Write | VmFlags.Shared | VmFlags.PfnMap | VmFlags.Io,
        }));
        var vm = new KvmVm(new VmConfig { Granule = Granule.Size4K, IpaBits = 40 }, host, PolicyRegistry.Create(policy));
        Check(vm.SetUserMemoryRegion(1, BarIpa, barBytes, BarHva, MemslotFlags.None));
        return vm;
    }

    /// <summary>A VM with <paramref name="count"/> 2 MiB slots, each over its own 2 MiB anonymous VMA, with 2 MiB holes between.</summary>
    public static KvmVm NewManySlotsVm(int count)
    {
        const ulong size = 2 * MiB, stride = 4 * MiB;
        var memory = new PhysicalMemory();
        Check(memory.AddRam(HostRamBase, (ulong)count * size));
        var host = new HostAddressSpace(new HostPageTableConfig(Granule.Size4K), memory);
        for (int i = 0; i < count; i++)
            Check(host.AddVma(new Vma { Start = GuestHva + (ulong)i * stride, End = GuestHva + (ulong)i * stride + size, Kind = VmaKind.Anonymous, BasePa = HostRamBase + (ulong)i * size }));
        var vm = new KvmVm(new VmConfig { Granule = Granule.Size4K, IpaBits = 40 }, host, PolicyRegistry.Create("v6.18"));
        for (int i = 0; i < count; i++)
            Check(vm.SetUserMemoryRegion(i, GuestIpa + (ulong)i * stride, size, GuestHva + (ulong)i * stride, MemslotFlags.None));
        return vm;
    }

    /// <summary>Span of the many-slots layout (slots and holes).</summary>
    public static ulong ManySlotsSpan(int count) => (ulong)count * 4 * MiB;

    private static void Check(HostResult r)
    {
        if (!r.Succeeded)
            throw new InvalidOperationException(r.Message);
    }

    private static void Check(KvmResult r)
    {
        if (!r.Succeeded)
            throw new InvalidOperationException($"errno {r.Errno}: {r.Refusal}");
    }

    /// <summary>
    /// What one table page costs in managed memory: the <c>ulong[]</c> itself (payload plus array header), and
    /// the amortised cost including the pool's per-page bookkeeping, measured over a 1 GiB 4K-page map.
    /// </summary>
    public static TableMemory MeasureTableMemory()
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var probe = new ulong[Granule.Size4K.EntriesPerTable];
        long arrayBytes = GC.GetAllocatedBytesForCurrentThread() - before;
        GC.KeepAlive(probe);

        before = GC.GetAllocatedBytesForCurrentThread();
        Stage2PageTable pgt = NewTable();
        MapInSteps(pgt, MemoryCache.Unbounded(), GuestIpa, GiB, MapPa, 4 * KiB);
        long total = GC.GetAllocatedBytesForCurrentThread() - before;
        long pages = pgt.LiveTablePagesTotal;
        return new TableMemory(arrayBytes, pages, total, pgt.TableBytes);
    }
}

/// <summary>Managed bytes of table pages (4K granule): per array, and amortised over a populated table.</summary>
internal readonly record struct TableMemory(long ArrayBytes, long TablePages, long TotalAllocatedBytes, long ModelTableBytes)
{
    public double AmortisedBytesPerPage => (double)TotalAllocatedBytes / TablePages;

    public override string ToString() =>
        $"table memory (4K granule): one table page = ulong[512] = {ArrayBytes} B allocated vs 4096 B ({(ArrayBytes - 4096) * 100.0 / 4096:F2}% over); " +
        $"a 1 GiB 4K-page map allocates {TotalAllocatedBytes:N0} B for {TablePages} table pages = {AmortisedBytesPerPage:F1} B/page " +
        $"({(AmortisedBytesPerPage - 4096) * 100.0 / 4096:F2}% over 4 KiB, pool bookkeeping and the table object included; the model reports {ModelTableBytes:N0} B)";
}
