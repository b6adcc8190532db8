using System.Text;
using Stage2Lab.Arch;

namespace Stage2Lab.Simulation.Scripts;

/// <summary>Reads the arguments of one script line, with errors that say what was expected.</summary>
public ref struct LineParser
{
    private readonly string _file;
    private readonly int _line;
    private ScriptTokens _tokens;

    public LineParser(string file, int line, ScriptTokens tokens)
    {
        _file = file;
        _line = line;
        _tokens = tokens;
    }

    public readonly ScriptException Error(string problem) => new(_file, _line, problem);

    public ReadOnlySpan<byte> Word(string what)
    {
        if (!_tokens.Next(out ReadOnlySpan<byte> token))
            throw Error($"missing {what}");
        return token;
    }

    public bool TryWord(out ReadOnlySpan<byte> token) => _tokens.Next(out token);

    public ulong Number(string what)
    {
        ReadOnlySpan<byte> token = Word(what);
        if (!NumberText.TryParse(token, out ulong value))
            throw Error($"bad number '{Shorten(token)}' for {what}, expected hex (0x...) or decimal with an optional K/M/G/T suffix");
        return value;
    }

    public ulong Aligned(string what, Granule granule)
    {
        ulong value = Number(what);
        if ((value & (granule.PageSize - 1)) != 0)
            throw Error($"{what} 0x{value:x} is not a multiple of the {granule.Name} granule");
        return value;
    }

    public Prot Prot()
    {
        ReadOnlySpan<byte> token = Word("PROT");
        if (TryParseProtBytes(token, out Prot parsed))
            return parsed;
        // Refused: let the one parser of PROT letters say why.
        // No valid PROT is longer than "rwxd"; a long token is an error, whose text is shortened for the message.
        if (token.Length > MaxProtLetters)
            throw Error($"PROT '{Shorten(token)}' is {token.Length} characters long, expected letters from r, w, x and at most one of d (device), n (normal non-cacheable), or '-'");
        Span<char> chars = stackalloc char[MaxProtLetters];
        chars = chars[..token.Length];
        for (int i = 0; i < token.Length; i++)
            chars[i] = (char)token[i];
        if (!ProtExtensions.TryParseLetters(chars, out Prot prot, out string? error))
            throw Error($"{error} in PROT '{new string(chars)}', expected letters from r, w, x and at most one of d (device), n (normal non-cacheable), or '-'");
        return prot;
    }

    /// <summary>
    /// <see cref="ProtExtensions.TryParseLetters"/> on the bytes as they are, without a char copy (a replay reads
    /// millions of PROTs): the same letters, no letter twice, at most one of d and n, or "-". Anything it refuses
    /// goes to TryParseLetters for the error.
    /// </summary>
    private static bool TryParseProtBytes(ReadOnlySpan<byte> token, out Prot prot)
    {
        prot = Arch.Prot.None;
        if (token.Length == 1 && token[0] == (byte)'-')
            return true;
        if (token.IsEmpty)
            return false;
        foreach (byte b in token)
        {
            Prot bit = b switch
            {
                (byte)'r' => Arch.Prot.R,
                (byte)'w' => Arch.Prot.W,
                (byte)'x' => Arch.Prot.X,
                (byte)'d' => Arch.Prot.Device,
                (byte)'n' => Arch.Prot.NormalNC,
                _ => Arch.Prot.None,
            };
            if (bit == Arch.Prot.None || (prot & bit) != 0)
                return false;
            prot |= bit;
        }
        return (prot & (Arch.Prot.Device | Arch.Prot.NormalNC)) != (Arch.Prot.Device | Arch.Prot.NormalNC);
    }

    public Granule Granule()
    {
        ReadOnlySpan<byte> token = Word("granule");
        if (!Arch.Granule.TryParse(Encoding.ASCII.GetString(token), out Granule granule))
            throw Error($"bad granule '{Shorten(token)}', expected 4K, 16K or 64K");
        return granule;
    }

    public int IpaBits()
    {
        ulong bits = Number("ipa-bits");
        if (bits < Stage2Geometry.MinIpaBits || bits > Stage2Geometry.MaxIpaBits)
            throw Error($"ipa-bits {bits} out of range, expected {Stage2Geometry.MinIpaBits}..{Stage2Geometry.MaxIpaBits}");
        return (int)bits;
    }

    public bool OnOff(string what)
    {
        ReadOnlySpan<byte> token = Word(what);
        if (token.SequenceEqual("on"u8))
            return true;
        if (token.SequenceEqual("off"u8))
            return false;
        throw Error($"bad value '{Shorten(token)}' for {what}, expected on or off");
    }

    public readonly string Text(ReadOnlySpan<byte> token) => Encoding.ASCII.GetString(token);

    /// <summary>A token for an error message: at most 40 characters of it.</summary>
    public static string Shorten(ReadOnlySpan<byte> token) =>
        token.Length <= 40 ? Encoding.ASCII.GetString(token) : Encoding.ASCII.GetString(token[..37]) + "...";

    /// <summary>
    /// A physical range the model can encode: [pa, pa + size) must not wrap and must end at or below 2^48. The
    /// descriptors KVM writes without LPA2 hold a 48-bit output address (stage2-model.md §1.3); 52-bit PAs are
    /// not modelled, and a higher PA would be truncated silently.
    /// </summary>
    public readonly void PaRange(string what, ulong pa, ulong sizeBytes)
    {
        if (sizeBytes <= PaLimit && pa <= PaLimit - sizeBytes)
            return;
        throw Error($"{what} 0x{pa:x} + 0x{sizeBytes:x} ends above 2^48 (0x{PaLimit:x}), the physical address limit of the model (48-bit output addresses; 52-bit PAs are not modelled)");
    }

    /// <summary>The first physical address the model cannot encode (see <see cref="PaRange"/>).</summary>
    public const ulong PaLimit = 1UL << 48;

    /// <summary>The longest valid PROT token ("rwxd", "rwxn").</summary>
    private const int MaxProtLetters = 4;

    /// <summary>Fails if anything but a comment follows the expected arguments.</summary>
    public void End()
    {
        if (_tokens.Next(out ReadOnlySpan<byte> extra))
            throw Error($"unexpected '{Shorten(extra)}' at the end of the line");
    }
}
