namespace Stage2Lab.Simulation.Scripts;

/// <summary>
/// Reads a script line by line as bytes, without a string per line (a replay may have millions of lines).
/// A file can be read again from the start (<see cref="Rewind"/>), so a script is checked whole before it runs;
/// standard input is kept in memory for the same reason.
/// </summary>
public sealed class ScriptSource : IDisposable
{
    private readonly Stream _stream;
    private byte[] _buffer = new byte[1 << 20];
    private int _start;
    private int _end;
    private bool _eof;

    private ScriptSource(Stream stream, string name)
    {
        _stream = stream;
        Name = name;
    }

    /// <summary>
    /// The longest line a script may have. Bounding it bounds the buffer (a file without newlines, /dev/zero,
    /// cannot grow it without end) and every token, and so every message that quotes one.
    /// </summary>
    public const int MaxLineBytes = 4096;

    /// <summary>The name errors use: the path as given, or "&lt;stdin&gt;".</summary>
    public string Name { get; }

    /// <summary>1-based number of the line last returned.</summary>
    public int LineNumber { get; private set; }

    /// <summary>The most a script read from a pipe (standard input, a FIFO) may hold: it is kept in memory.</summary>
    public const long MaxPipedBytes = 512L << 20;

    /// <summary>A script file; one that cannot seek (a FIFO, /dev/stdin) is read into memory, with a bound.</summary>
    public static ScriptSource OpenFile(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        if (stream.CanSeek)
            return new ScriptSource(stream, path);
        using (stream)
            return FromStream(stream, path);
    }

    /// <summary>A script from a stream that may not seek, kept in memory (at most <see cref="MaxPipedBytes"/>).</summary>
    public static ScriptSource FromStream(Stream input, string name)
    {
        byte[] bytes = Scenarios.BoundedRead.ReadAtMost(input, MaxPipedBytes);
        if (bytes.Length > MaxPipedBytes)
            throw new ScriptException(name, 0, $"more than {MaxPipedBytes >> 20} MiB from a pipe; write the script to a file and replay the file");
        return new ScriptSource(new MemoryStream(bytes, writable: false), name);
    }

    public static ScriptSource FromText(string text, string name) =>
        new(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text)), name);

    public void Rewind() => Seek(default);

    /// <summary>Where the next line starts, to come back to with <see cref="Seek"/>.</summary>
    public ScriptPosition Position => new(_stream.Position - (_end - _start), LineNumber);

    /// <summary>Goes back (or forward) to a position taken from <see cref="Position"/>.</summary>
    public void Seek(ScriptPosition position)
    {
        _stream.Position = position.Offset;
        _start = _end = 0;
        _eof = false;
        LineNumber = position.LineNumber;
    }

    /// <summary>The next physical line without its line terminator; false at the end.</summary>
    public bool TryReadLine(out ReadOnlySpan<byte> line)
    {
        while (true)
        {
            int nl = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if ((nl < 0 ? _end - _start : nl) > MaxLineBytes)
                throw new ScriptException(Name, LineNumber + 1, $"line longer than {MaxLineBytes} bytes (a script line is under 100); is this a script?");
            if (nl >= 0)
            {
                line = _buffer.AsSpan(_start, nl);
                _start += nl + 1;
                LineNumber++;
                return true;
            }
            if (_eof)
            {
                if (_start < _end)
                {
                    line = _buffer.AsSpan(_start, _end - _start);
                    _start = _end;
                    LineNumber++;
                    return true;
                }
                line = default;
                return false;
            }
            Fill();
        }
    }

    private void Fill()
    {
        int remaining = _end - _start;
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, remaining);
            _start = 0;
            _end = remaining;
        }
        if (_end == _buffer.Length)
            Array.Resize(ref _buffer, _buffer.Length * 2);
        int read = _stream.Read(_buffer, _end, _buffer.Length - _end);
        if (read == 0)
            _eof = true;
        _end += read;
    }

    public void Dispose() => _stream.Dispose();
}

/// <summary>A place in a script: the byte offset of a line's start and the number of the line before it.</summary>
public readonly record struct ScriptPosition(long Offset, int LineNumber);
