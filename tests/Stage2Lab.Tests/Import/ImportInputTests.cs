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
