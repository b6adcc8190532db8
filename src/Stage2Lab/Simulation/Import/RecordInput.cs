using System.Text;

namespace Stage2Lab.Simulation.Import;

/// <summary>
/// One input record file, read whole but bounded: larger than <see cref="MaxBytes"/>, binary or empty input is
/// refused with a message saying so (the CLI exits with 2), before anything is parsed.
/// </summary>
public sealed class RecordInput
{
    /// <summary>
    /// The largest input read (32 MiB). The records of one VMM are a few MiB at most (a 100,000-line smaps is about
    /// 3 MiB), so anything larger is not one process's records; refusing it keeps memory bounded.
    /// </summary>
    public const int MaxBytes = 32 << 20;

    /// <summary>How much of the start is examined for binary content.</summary>
    private const int SniffBytes = 64 << 10;

    /// <summary>Share of control characters (other than tab, CR, LF, FF, ESC) above which input is called binary.</summary>
    private const double MaxControlShare = 0.10;

    private RecordInput(RecordFormat format, string name, string text)
    {
        Format = format;
        Name = name;
        Text = text;
    }

    public RecordFormat Format { get; }

    /// <summary>The file name used in messages and provenance comments.</summary>
    public string Name { get; }

    public string Text { get; }

    /// <summary>Reads a file, refusing what is too large, binary or empty.</summary>
    public static RecordInput Load(RecordFormat format, string path)
    {
        string option = "--" + RecordFormats.OptionName(format);
        byte[] bytes;
        try
        {
            var info = new FileInfo(path);
            if (info.Exists && info.Length > MaxBytes)
                throw new ImportException($"{path}: {option} input is {FormatMiB(info.Length)}, more than the {FormatMiB(MaxBytes)} import reads; the records of one VMM are a few MiB (keep only the VMM's lines)");
            using FileStream stream = File.OpenRead(path);
            bytes = ReadBounded(stream, path, option);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ImportException($"{path}: cannot read the {option} input: {ex.Message}");
        }
        return FromBytes(format, path, bytes);
    }

    /// <summary>Input given as bytes (tests, stdin).</summary>
    public static RecordInput FromBytes(RecordFormat format, string name, ReadOnlySpan<byte> bytes)
    {
        string option = "--" + RecordFormats.OptionName(format);
        if (bytes.Length > MaxBytes)
            throw new ImportException($"{name}: {option} input is {FormatMiB(bytes.Length)}, more than the {FormatMiB(MaxBytes)} import reads");
        if (FindBinary(bytes) is { } why)
            throw new ImportException($"{name}: {option} input is binary ({why}); expected the text of {RecordFormats.Describe(format)}");
        string text = new UTF8Encoding(false, false).GetString(bytes);
        if (text.Length > 0 && text[0] == '\uFEFF')
            text = text[1..];
        if (string.IsNullOrWhiteSpace(text))
            throw new ImportException($"{name}: {option} input is empty; expected the text of {RecordFormats.Describe(format)}");
        return new RecordInput(format, name, text);
    }

    /// <summary>Input given as text (tests).</summary>
    public static RecordInput FromText(RecordFormat format, string name, string text) => FromBytes(format, name, Encoding.UTF8.GetBytes(text));

    private static byte[] ReadBounded(Stream stream, string path, string option)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            if (buffer.Length + read > MaxBytes)
                throw new ImportException($"{path}: {option} input is more than the {FormatMiB(MaxBytes)} import reads; the records of one VMM are a few MiB");
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    private static string? FindBinary(ReadOnlySpan<byte> bytes)
    {
        int nul = bytes.IndexOf((byte)0);
        if (nul >= 0)
            return $"a NUL byte at offset {nul}";
        ReadOnlySpan<byte> head = bytes[..Math.Min(bytes.Length, SniffBytes)];
        int control = 0;
        foreach (byte b in head)
        {
            if (b < 0x20 && b is not (byte)'\t' and not (byte)'\r' and not (byte)'\n' and not 0x0c and not 0x1b)
                control++;
        }
        return head.Length > 0 && control > head.Length * MaxControlShare ? $"{control} control bytes in its first {head.Length}" : null;
    }

    private static string FormatMiB(long bytes) => $"{bytes / (1024.0 * 1024.0):0.0} MiB";
}
