using System.Diagnostics;
using System.Globalization;
using System.Text;
using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Scripts;
using static Stage2Lab.Benchmarks.Workloads;

namespace Stage2Lab.Benchmarks;

/// <summary>
/// `--figures [--out DIR] [--runs N]`: end-to-end figures timed with a Stopwatch, no BenchmarkDotNet.
/// Generates the 4,194,304-map replay script of issue 2 and the 1M-access fault script of issue 6 (into DIR,
/// kept, or a temporary directory, removed), times S2OpsScript.Run and S2FaultsScript.Run on them (parsing
/// included, output to TextWriter.Null), and prints table memory, fault-path and lookup figures.
/// The first run of each includes JIT compilation, as a fresh `s2lab replay` process does.
/// </summary>
internal static class Figures
{
    private const int Rounds = 16;
    private const int FaultAccesses = 1 << 20;

    public static int Run(string[] args)
    {
        string? outDir = null;
        int runs = 3;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--out" when i + 1 < args.Length: outDir = args[++i]; break;
                case "--runs" when i + 1 < args.Length: runs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"usage: --figures [--out DIR] [--runs N]; unexpected '{args[i]}'");
                    return 2;
            }
        }

        bool temporary = outDir is null;
        string dir = outDir ?? Directory.CreateTempSubdirectory("s2lab-figures-").FullName;
        Directory.CreateDirectory(dir);
        try
        {
            Console.WriteLine($"runtime {Environment.Version}, {Environment.ProcessorCount} cores, server GC {System.Runtime.GCSettings.IsServerGC}");
            ReplayFigures(Path.Combine(dir, "map-16x1g-4k.s2ops"), runs);
            FaultScriptFigures(Path.Combine(dir, "thp16g-bar32g-1m.s2faults"), runs);
            Console.WriteLine(MeasureTableMemory());
            FaultPathFigures(runs);
            LookupFigures();
            if (!temporary)
                Console.WriteLine($"scripts kept in {dir}");
        }
        finally
        {
            if (temporary)
                Directory.Delete(dir, recursive: true);
        }
        return 0;
    }

    private static void ReplayFigures(string path, int runs)
    {
        var sw = Stopwatch.StartNew();
        using (var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20))
            WriteMapScript(writer, Rounds, unmapAfterEachRound: true);
        long lines = CountLines(path);
        Console.WriteLine($"replay script: {path}, {lines:N0} lines ({Rounds * (int)(GiB / (4 * KiB)):N0} maps, {Rounds} unmaps), {new FileInfo(path).Length / (1 << 20)} MiB, written in {sw.Elapsed.TotalSeconds:F2} s");

        const long maps = Rounds * (long)(GiB / (4 * KiB));
        for (int run = 1; run <= runs; run++)
        {
            long allocated = GC.GetTotalAllocatedBytes(precise: true);
            sw.Restart();
            using var source = ScriptSource.OpenFile(path);
            Stage2PageTable pgt = S2OpsScript.Run(source, TextWriter.Null);
            double seconds = sw.Elapsed.TotalSeconds;
            allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
            Console.WriteLine($"  S2OpsScript.Run #{run}: {seconds:F3} s, {maps / seconds / 1e6:F2}M maps/s ({lines / seconds / 1e6:F2}M lines/s), {allocated / (double)lines:F1} B allocated per line, {pgt.LiveTablePagesTotal} table pages left");
        }

        // The two passes separately: the check pass is parsing alone.
        using (var source = ScriptSource.OpenFile(path))
        {
            sw.Restart();
            S2OpsScript.Check(source);
            double parse = sw.Elapsed.TotalSeconds;
            Console.WriteLine($"  check pass alone (read + parse): {parse:F3} s, {lines / parse / 1e6:F2}M lines/s");
        }
    }

    /// <summary>
    /// 16 GiB of THP-backed RAM and a 32 GiB PFNMAP BAR (HVA and PA 1 GiB-aligned), one slot each; 1M seeded
    /// random reads and writes spread over both slots in proportion to their size.
    /// </summary>
    private static void WriteFaultScript(string path)
    {
        const ulong ramPa = 0x80000000, ramSize = 16 * GiB, ramHva = 0x7f0000000000, ramIpa = 0x80000000;
        const ulong barPa = 0x1000000000, barSize = 32 * GiB, barHva = 0x7f1000000000, barIpa = 0x8000000000;
        using var w = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20) { NewLine = "\n" };
        w.WriteLine("# 1M random accesses: 16 GiB of THP-backed RAM and a 32 GiB BAR");
        w.WriteLine("ipa-bits 40");
        w.WriteLine("policy v6.18");
        w.WriteLine($"ram 0x{ramPa:x} 16G");
        w.WriteLine($"vma 0x{ramHva:x} 16G anon 0x{ramPa:x} thp");
        w.WriteLine($"vma 0x{barHva:x} 32G pfnmap 0x{barPa >> 12:x}");
        w.WriteLine($"slot 0 0x{ramIpa:x} 16G 0x{ramHva:x}");
        w.WriteLine($"slot 1 0x{barIpa:x} 32G 0x{barHva:x}");
        var random = new Random(Seed);
        const ulong span = ramSize + barSize;
        for (int i = 0; i < FaultAccesses; i++)
        {
            ulong offset = (ulong)random.NextInt64((long)span) & ~7UL;
            ulong ipa = offset < ramSize ? ramIpa + offset : barIpa + (offset - ramSize);
            w.Write("access 0x");
            w.Write(ipa.ToString("x", CultureInfo.InvariantCulture));
            w.WriteLine(random.Next(4) == 0 ? " w" : " r");
        }
    }

    private static void FaultScriptFigures(string path, int runs)
    {
        var sw = Stopwatch.StartNew();
        WriteFaultScript(path);
        long lines = CountLines(path);
        Console.WriteLine($"fault script: {path}, {lines:N0} lines, {FaultAccesses:N0} accesses, written in {sw.Elapsed.TotalSeconds:F2} s");
        for (int run = 1; run <= runs; run++)
        {
            long allocated = GC.GetTotalAllocatedBytes(precise: true);
            sw.Restart();
            using var source = ScriptSource.OpenFile(path);
            KvmVm vm = S2FaultsScript.Run(source, TextWriter.Null);
            double seconds = sw.Elapsed.TotalSeconds;
            allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
            VmCounters c = vm.Counters;
            Console.WriteLine($"  S2FaultsScript.Run #{run}: {seconds:F3} s, {c.Accesses / seconds / 1e6:F2}M accesses/s; {c.Faults:N0} faults " +
                $"({c.Mapped:N0} mapped, {c.Relaxed:N0} relaxed, {c.MmioExits} mmio, {c.Errors} errors), {c.Faults / seconds / 1e6:F3}M faults/s of wall time; " +
                $"{allocated / (double)c.Accesses:F1} B allocated per access");
        }
    }

    /// <summary>The fault path alone, as FaultPathBenchmarks measures it (a quick Stopwatch version).</summary>
    private static void FaultPathFigures(int runs)
    {
        ulong[] order = ShuffledPages(GuestIpa, GiB, 4 * KiB);
        for (int run = 1; run <= runs; run++)
        {
            KvmVm vm = NewRamVm(GiB, thp: false);
            long allocated = GC.GetTotalAllocatedBytes(precise: true);
            var sw = Stopwatch.StartNew();
            foreach (ulong ipa in order)
                vm.Access(ipa, AccessKind.Write);
            double seconds = sw.Elapsed.TotalSeconds;
            allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
            long faults = vm.Counters.Mapped;
            sw.Restart();
            foreach (ulong ipa in order)
                vm.Access(ipa, AccessKind.Read);
            double hitSeconds = sw.Elapsed.TotalSeconds;
            Console.WriteLine($"fault path #{run}: {faults:N0} 4K faults over 1 GiB in {seconds * 1e3:F1} ms = {faults / seconds / 1e6:F2}M faults/s " +
                $"({allocated / (double)faults:F1} B/fault, table pages included); hits {order.Length / hitSeconds / 1e6:F1}M/s");
        }
    }

    /// <summary>Slot and VMA lookup at growing counts: O(log n) shows as a slowly growing time per lookup.</summary>
    private static void LookupFigures()
    {
        const int lookups = 1 << 20;
        foreach (int count in new[] { 16, 256, 4096 })
        {
            KvmVm vm = NewManySlotsVm(count);
            ulong[] ipas = RandomIpas(lookups, GuestIpa, ManySlotsSpan(count), Seed + 2);
            ulong[] hvas = RandomIpas(lookups, GuestHva, ManySlotsSpan(count), Seed + 3);
            int found = 0;
            double slotNs = 0, vmaNs = 0;
            for (int pass = 0; pass < 3; pass++)
            {
                var sw = Stopwatch.StartNew();
                foreach (ulong ipa in ipas)
                    found += vm.Memslots.Find(ipa) is null ? 0 : 1;
                slotNs = sw.Elapsed.TotalNanoseconds / lookups;
                sw.Restart();
                foreach (ulong hva in hvas)
                    found += vm.Host.FindVma(hva) is null ? 0 : 1;
                vmaNs = sw.Elapsed.TotalNanoseconds / lookups;
            }
            Console.WriteLine($"lookups with {count,5} slots/VMAs: Memslots.Find {slotNs:F1} ns, Host.FindVma {vmaNs:F1} ns ({found / 6:N0} hits per pass)");
        }
    }

    private static long CountLines(string path)
    {
        long lines = 0;
        using var stream = File.OpenRead(path);
        var buffer = new byte[1 << 20];
        int read;
        while ((read = stream.Read(buffer)) > 0)
            lines += buffer.AsSpan(0, read).Count((byte)'\n');
        return lines;
    }
}
