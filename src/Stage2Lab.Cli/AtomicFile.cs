using System.Text;

namespace Stage2Lab.Cli;

/// <summary>
/// Writes an output file so that it is either complete or absent: a temporary file next to it, then a rename.
/// That is only right for a regular file (or a new one). A symbolic link is followed to its target, which is
/// written the same way (the link stays a link); a FIFO, a character or block device, a terminal, or
/// /dev/stdout (anything under /dev or /proc) is written directly, since renaming over it would replace the
/// node with a regular file.
/// </summary>
internal static class AtomicFile
{
    public static void Write(string path, string content) => Write(path, new UTF8Encoding(false).GetBytes(content));

    public static void Write(string path, byte[] bytes) => Write(path, stream => stream.Write(bytes));

    /// <summary>Writes what <paramref name="write"/> puts in a stream, the same way (temporary file, then rename).</summary>
    public static void Write(string path, Action<Stream> write)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new UsageException("an output file name is empty; give a path (or leave the option out to print to standard output)");
        string full = FinalTarget(Path.GetFullPath(path));
        if (IsSpecial(full, out FileStream? opened))
        {
            try
            {
                using FileStream direct = opened ?? new FileStream(full, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1);
                using var buffered = new BufferedStream(direct, 1 << 16);
                write(buffered);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new IOException($"cannot write {path}: {ex.Message}", ex);
            }
            return;
        }

        string directory = Path.GetDirectoryName(full) ?? ".";
        string temp = Path.Combine(directory, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
                write(file);
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Name the file the user asked for, not the hidden temporary one beside it.
            throw new IOException($"cannot write {path}: {ex.Message.Replace(temp, full, StringComparison.Ordinal)}", ex);
        }
        finally
        {
            if (File.Exists(temp))
                File.Delete(temp);
        }
    }

    /// <summary>
    /// Checks, before any work, that <paramref name="path"/> (given with <paramref name="option"/>) can be written:
    /// its folder exists and takes a new file, and it is not a folder itself. A usage error (exit 2) otherwise, so
    /// that a long run is not lost to a typo in an output path.
    /// </summary>
    public static void EnsureWritable(string path, string option)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new UsageException($"{option} needs a file name, got an empty one");
        string full;
        try
        {
            full = FinalTarget(Path.GetFullPath(path));
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or NotSupportedException)
        {
            throw new UsageException($"{option} {path}: {ex.Message}");
        }
        if (Directory.Exists(full))
            throw new UsageException($"{option} {path} is a folder; give a file name");
        if (IsUnderDevOrProc(full) && File.Exists(full))
            return;
        string directory = Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(directory))
            throw new UsageException($"{option} {path}: the folder {directory} does not exist; create it or give another path");
        string probe = Path.Combine(directory, $".s2lab-probe.{Environment.ProcessId}.tmp");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            string why = ex is UnauthorizedAccessException ? "permission denied" : ex.Message.Replace(probe, directory, StringComparison.Ordinal);
            throw new UsageException($"{option} {path}: the folder {directory} cannot be written ({why})");
        }
    }

    /// <summary>The path with every symbolic link followed (a dangling link: the path it points to).</summary>
    private static string FinalTarget(string full)
    {
        for (int hops = 0; hops < 40; hops++)
        {
            // /dev/stdout leads to /proc/self/fd/1, whose "target" may be "pipe:[123]", not a path: open the
            // special file itself.
            if (IsUnderDevOrProc(full))
                return full;
            var info = new FileInfo(full);
            if (info.LinkTarget is not { } target)
                return full;
            full = Path.GetFullPath(target, Path.GetDirectoryName(full) ?? "/");
        }
        throw new IOException($"too many levels of symbolic links at '{full}'");
    }

    private static bool IsUnderDevOrProc(string full) =>
        full.StartsWith("/dev/", StringComparison.Ordinal) || full.StartsWith("/proc/", StringComparison.Ordinal);

    /// <summary>
    /// True for an existing file that is not a regular file: under /dev or /proc, or one that cannot seek (a FIFO,
    /// a character device, a socket), which is left open in <paramref name="opened"/> to write to.
    /// </summary>
    private static bool IsSpecial(string full, out FileStream? opened)
    {
        opened = null;
        if (!File.Exists(full))
            return false;
        if (IsUnderDevOrProc(full))
            return true;
        FileStream stream;
        try
        {
            // Opening without truncating changes nothing; a FIFO's open waits for a reader, as any writer's does.
            stream = new FileStream(full, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1);
        }
        catch (UnauthorizedAccessException)
        {
            return false; // a read-only regular file in a writable directory: the rename replaces it, as before
        }
        if (stream.CanSeek)
        {
            stream.Dispose();
            return false;
        }
        opened = stream;
        return true;
    }
}
