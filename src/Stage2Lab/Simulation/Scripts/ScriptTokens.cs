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
        ReadOnlySpan<byte> rest = _rest;
        int i = 0;
        while (i < rest.Length && IsSpace(rest[i]))
            i++;
        int start = i;
        while (i < rest.Length && !IsSpace(rest[i]))
            i++;
        token = rest[start..i];
        _rest = rest[i..];
        return token.Length > 0;
    }

    /// <summary>Space, tab, CR, form feed or vertical tab, tested as one bit of a mask (a line has many bytes).</summary>
    private static bool IsSpace(byte b) => b <= (byte)' ' && ((SpaceMask >> b) & 1) != 0;

    private const ulong SpaceMask = (1UL << ' ') | (1UL << '\t') | (1UL << '\r') | (1UL << '\f') | (1UL << '\v');
}
