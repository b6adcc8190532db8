using System.Text;
using Stage2Lab.Simulation.Import;

namespace Stage2Lab.Tests.Import;

public class ImportInputTests
{
    [Fact]
    public void Binary_and_empty_inputs_are_refused_with_a_message()
    {
        var binary = Assert.Throws<ImportException>(() => RecordInput.FromBytes(RecordFormat.Smaps, "a.bin", [0x7f, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, 0]));
        Assert.Contains("a.bin: --smaps input is binary (a NUL byte at offset 7)", binary.Message);
        var empty = Assert.Throws<ImportException>(() => RecordInput.FromText(RecordFormat.Lspci, "e.txt", " \n\n"));
        Assert.Contains("e.txt: --lspci input is empty", empty.Message);
        var control = Assert.Throws<ImportException>(() => RecordInput.FromBytes(RecordFormat.Maps, "c", Enumerable.Repeat((byte)1, 100).ToArray()));
        Assert.Contains("control bytes", control.Message);
    }

    [Fact]
    public void A_file_above_the_limit_is_refused_before_it_is_read()
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory().FullName, "big.txt");
        using (var f = new FileStream(path, FileMode.Create))
            f.SetLength(100L << 20);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<ImportException>(() => RecordInput.Load(RecordFormat.Smaps, path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("100.0 MiB, more than the 32.0 MiB import reads", ex.Message);
        Assert.True(allocated < 1 << 20, $"{allocated} bytes allocated to refuse it");
    }

    [Fact]
    public void A_missing_file_is_an_import_error()
    {
        var ex = Assert.Throws<ImportException>(() => RecordInput.Load(RecordFormat.Mtree, "/nonexistent/mtree.txt"));
        Assert.Contains("cannot read the --mtree input", ex.Message);
    }

    [Fact]
    public void A_byte_order_mark_and_crlf_line_ends_are_accepted()
    {
        byte[] bytes = [0xef, 0xbb, 0xbf, .. Encoding.ASCII.GetBytes("ffff00000000-ffff10000000 rw-p 00000000 00:00 0\r\n")];
        ParsedRecords r = Importer.Parse([RecordInput.FromBytes(RecordFormat.Maps, "m", bytes)]);
        Assert.Equal(256UL << 20, r.Vmas.Single().SizeBytes);
    }
}

public class ImportRobustnessTests
{
    public static TheoryData<string> Files() => new(Directory.GetFiles(Path.Combine(RepoPaths.RepoRoot, "examples", "import"), "*.txt", SearchOption.AllDirectories)
        .Select(f => Path.GetRelativePath(RepoPaths.RepoRoot, f)).OrderBy(f => f, StringComparer.Ordinal));

    /// <summary>Any sample given as any format: a scenario or an ImportException, never another exception.</summary>
    [Theory]
    [MemberData(nameof(Files))]
    public void Every_sample_file_read_as_every_format_imports_or_fails_cleanly(string file)
    {
        string text = File.ReadAllText(Path.Combine(RepoPaths.RepoRoot, file));
        foreach (RecordFormat format in Enum.GetValues<RecordFormat>())
        {
            try
            {
                ImportResult r = Importer.Import([RecordInput.FromText(format, file, text)]);
                Assert.NotEmpty(r.Scenario.Memslots);
                Stage2Lab.Simulation.Scenarios.ScenarioReader.Parse(r.ToYaml(), "x.yaml");
            }
            catch (ImportException ex)
            {
                Assert.NotEmpty(ex.Messages);
            }
        }
    }

    /// <summary>Random bytes of printable text and record-like fragments: never a crash.</summary>
    [Fact]
    public void Shuffled_record_fragments_never_crash_the_import()
    {
        string[] pieces = ["7f00-7f01 rw-s 20000000000 00:0e 1 anon_inode:[vfio-device]", "Slot#1 flags=0x0", "kvm_set_user_memory", "vfio_listener_region_add_ram region_add [ram] 0x0 - 0xfff [0x1000]",
            "0000000000000000-0000000000000fff (prio 0, ramd): 0000:01:00.0 BAR 0 mmaps[0] KVM", "Region 0: Memory at 1000 (64-bit, prefetchable) [size=4K]", "01:00.0 x", "VmFlags: pf io",
            "KernelPageSize: 64 kB", "> ", "=3D", "...", "@0000000000001000", "ffffffffffffffff-0", "1000-0fff : System RAM", "  ", "\t", "size=0x0 ua=0x0 ret=0", "AddrSpace#1"];
        var random = new Random(14);
        for (int round = 0; round < 300; round++)
        {
            var text = new System.Text.StringBuilder();
            for (int i = random.Next(1, 40); i > 0; i--)
                text.Append(pieces[random.Next(pieces.Length)]).Append(random.Next(3) == 0 ? "\n" : " ");
            foreach (RecordFormat format in Enum.GetValues<RecordFormat>())
            {
                try
                {
                    Importer.Import([RecordInput.FromText(format, "r.txt", text.ToString() + "\n")]);
                }
                catch (ImportException)
                {
                }
            }
        }
    }
}
