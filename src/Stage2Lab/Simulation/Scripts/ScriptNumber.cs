using System.Text;

namespace Stage2Lab.Simulation.Scripts;

/// <summary>
/// Numbers as the script and scenario formats write them: hex with 0x or decimal, with an optional K, M, G
/// or T suffix (powers of 1024).
/// </summary>
public static class ScriptNumber
{
    public static bool TryParse(ReadOnlySpan<byte> text, out ulong value)
    {
        value = 0;
        if (text.IsEmpty)
            return false;
        int shift = 0;
        switch (text[^1])
        {
            case (byte)'K': case (byte)'k': shift = 10; break;
            case (byte)'M': case (byte)'m': shift = 20; break;
            case (byte)'G': case (byte)'g': shift = 30; break;
            case (byte)'T': case (byte)'t': shift = 40; break;
        }
        if (shift != 0)
            text = text[..^1];
        if (text.IsEmpty)
            return false;

        ulong v = 0;
        if (text.Length > 2 && text[0] == (byte)'0' && (text[1] == (byte)'x' || text[1] == (byte)'X'))
        {
            text = text[2..];
            if (text.Length > 16)
            {
                int firstNonZero = 0;
                while (firstNonZero < text.Length - 1 && text[firstNonZero] == (byte)'0')
                    firstNonZero++;
                text = text[firstNonZero..];
                if (text.Length > 16)
                    return false;
            }
            foreach (byte b in text)
            {
                int d = HexDigit(b);
                if (d < 0)
                    return false;
                v = (v << 4) | (uint)d;
            }
        }
        else
        {
            foreach (byte b in text)
            {
                uint d = (uint)(b - (byte)'0');
                if (d > 9)
                    return false;
                if (v > (ulong.MaxValue - d) / 10)
                    return false;
                v = v * 10 + d;
            }
        }
        if (shift != 0 && (v >> (64 - shift)) != 0)
            return false;
        value = v << shift;
        return true;
    }

    public static bool TryParse(string text, out ulong value)
    {
        Span<byte> bytes = stackalloc byte[64];
        if (text.Length > bytes.Length)
        {
            value = 0;
            return false;
        }
        int n = Encoding.ASCII.GetBytes(text.Trim(), bytes);
        return TryParse(bytes[..n], out value);
    }

    private static int HexDigit(byte b)
    {
        if (b >= (byte)'0' && b <= (byte)'9') return b - '0';
        if (b >= (byte)'a' && b <= (byte)'f') return b - 'a' + 10;
        if (b >= (byte)'A' && b <= (byte)'F') return b - 'A' + 10;
        return -1;
    }
}
