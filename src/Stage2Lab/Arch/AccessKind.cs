namespace Stage2Lab.Arch;

/// <summary>What a guest access does: a data read, a data write or an instruction fetch.</summary>
public enum AccessKind : byte
{
    Read,
    Write,
    Exec,
}

public static class AccessKindExtensions
{
    public static bool TryParse(ReadOnlySpan<char> text, out AccessKind kind)
    {
        kind = AccessKind.Read;
        if (text.Length != 1)
            return false;
        switch (text[0])
        {
            case 'r': kind = AccessKind.Read; return true;
            case 'w': kind = AccessKind.Write; return true;
            case 'x': kind = AccessKind.Exec; return true;
            default: return false;
        }
    }
}
