namespace Stage2Lab.Simulation.Scenarios;

/// <summary>Reading input files with a size bound, whatever they are (a regular file, a pipe, /dev/zero).</summary>
public static class BoundedRead
{
    /// <summary>
    /// Up to <paramref name="limitBytes"/> + 1 bytes of the stream: a result longer than the limit means the input
    /// is too large, and nothing beyond one byte past the limit was read or allocated.
    /// </summary>
    public static byte[] ReadAtMost(Stream stream, long limitBytes)
    {
        var buffer = new MemoryStream();
        byte[] chunk = new byte[1 << 16];
        while (buffer.Length <= limitBytes)
        {
            int want = (int)Math.Min(chunk.Length, limitBytes + 1 - buffer.Length);
            int read = stream.Read(chunk, 0, want);
            if (read == 0)
                break;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }
}
