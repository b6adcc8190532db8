using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using Stage2Lab.Simulation.Import;

namespace Stage2Lab.Benchmarks;

/// <summary>
/// `s2lab import` of a 100,000-line /proc/PID/smaps (issue 14: under 1 s): reading the text, cleaning, parsing
/// every line and joining into a scenario, then writing it as YAML.
/// </summary>
[MemoryDiagnoser]
public class ImportBenchmarks
{
    /// <summary>smaps prints 25 lines per VMA on a 6.x kernel; 4,000 VMAs are 100,000 lines.</summary>
    private const int Vmas = 4000;

    private const int LinesPerVma = 25;

    private byte[] _smaps = null!;

    [GlobalSetup]
    public void Setup()
    {
        _smaps = Encoding.UTF8.GetBytes(Smaps(Vmas));
        int lines = _smaps.Count(b => b == (byte)'\n');
        if (lines != Vmas * LinesPerVma)
            throw new InvalidOperationException($"expected {Vmas * LinesPerVma} lines, made {lines}");
        ImportResult check = Import();
        if (check.Scenario.Memslots.Count != 12 || check.Skipped.Count != 0)
            throw new InvalidOperationException($"expected 12 memslots and no skipped line, got {check.Scenario.Memslots.Count} and {check.Skipped.Count}");
    }

    [Benchmark(Description = "import 100,000-line smaps (parse + join)")]
    public ImportResult Smaps100kLines() => Import();

    [Benchmark(Description = "import 100,000-line smaps and write the YAML")]
    public int Smaps100kLinesToYaml() => Import().ToYaml().Length;

    private ImportResult Import() => Importer.Import([RecordInput.FromBytes(RecordFormat.Smaps, "smaps", _smaps)]);

    /// <summary>
    /// A QEMU-like process: thread stacks and arenas, libraries, four 4 GiB guest RAM VMAs and eight 1 GiB vfio-pci
    /// BAR mmaps, every VMA with the 24 fields a 6.x kernel prints.
    /// </summary>
    private static string Smaps(int vmas)
    {
        var text = new StringBuilder(vmas * 800);
        ulong hva = 0xffff_0000_0000;
        for (int i = 0; i < vmas; i++)
        {
            bool ram = i % 1000 == 500, bar = i % 500 == 250;
            ulong size = ram ? 4UL << 30 : bar ? 1UL << 30 : (ulong)(4096 * (1 + i % 31));
            hva -= size + 4096;
            hva &= bar || ram ? ~((1UL << 30) - 1) : ~4095UL;
            string perms = bar ? "rw-s" : ram || i % 3 != 0 ? "rw-p" : "r-xp";
            ulong offset = bar ? (ulong)(i % 3 * 2) << 40 : 0;
            string path = bar ? "anon_inode:[vfio-device]" : !ram && i % 3 == 0 ? $"/usr/lib/aarch64-linux-gnu/lib{i}.so" : "";
            text.Append(CultureInfo.InvariantCulture, $"{hva:x}-{hva + size:x} {perms} {offset:x8} {(bar ? "00:0e" : "103:02")} {(path.Length > 0 ? 1000 + i : 0)}");
            text.Append(path.Length > 0 ? new string(' ', 20) + path + "\n" : "\n");
            ulong kb = size / 1024;
            string flags = bar ? "rd wr sh mr mw me ms pf io de dd" : ram ? "rd wr mr mw me ac hg" : "rd wr mr mw me ac";
            foreach (string field in (string[])["Size", "KernelPageSize", "MMUPageSize", "Rss", "Pss", "Pss_Dirty", "Shared_Clean", "Shared_Dirty", "Private_Clean",
                "Private_Dirty", "Referenced", "Anonymous", "KSM", "LazyFree", "AnonHugePages", "ShmemPmdMapped", "FilePmdMapped", "Shared_Hugetlb",
                "Private_Hugetlb", "Swap", "SwapPss", "Locked"])
            {
                ulong value = field is "KernelPageSize" or "MMUPageSize" ? 4 : field is "Size" or "Rss" or "Pss" ? kb : field == "AnonHugePages" && ram ? kb : 0;
                text.Append(CultureInfo.InvariantCulture, $"{field + ":",-16}{value,8} kB\n");
            }
            text.Append(CultureInfo.InvariantCulture, $"THPeligible:    {(ram ? 1 : 0),8}\nVmFlags: {flags} \n");
        }
        return text.ToString();
    }
}
