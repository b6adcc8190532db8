namespace Stage2Lab.Simulation.Scripts;

/// <summary>The whitespace-separated words of one script line, up to a '#' comment.</summary>
public ref struct ScriptTokens
{
    private ReadOnlySpan<byte> _rest;

    public ScriptTokens(ReadOnlySpan<byte> line)
    {
        int hash = line.IndexOf((byte)'#');
        _rest = hash >= 0 ? line[..hash] : line;
    }

    public bool IsEmpty
    {
        get
        {
            foreach (byte b in _rest)
            {
                if (!IsSpace(b))
                    return false;
            }
            return true;
        }
    }

    public bool Next(out ReadOnlySpan<byte> token)
    {
        int i = 0;
        while (i < _rest.Length && IsSpace(_rest[i]))
            i++;
        int start = i;
        while (i < _rest.Length && !IsSpace(_rest[i]))
            i++;
        token = _rest[start..i];
        _rest = _rest[i..];
        return token.Length > 0;
    }

    private static bool IsSpace(byte b) => b == (byte)' ' || b == (byte)'\t' || b == (byte)'\r' || b == (byte)'\f' || b == (byte)'\v';
}
