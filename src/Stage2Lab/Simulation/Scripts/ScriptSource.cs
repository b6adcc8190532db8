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

    /// <summary>The name errors use: the path as given, or "&lt;stdin&gt;".</summary>
    public string Name { get; }

    /// <summary>1-based number of the line last returned.</summary>
    public int LineNumber { get; private set; }

    public static ScriptSource OpenFile(string path) =>
        new(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan), path);

    public static ScriptSource FromStream(Stream input, string name)
    {
        var memory = new MemoryStream();
        input.CopyTo(memory);
        memory.Position = 0;
        return new ScriptSource(memory, name);
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
