using System.Text;

namespace Stage2Lab.Arch;

/// <summary>
/// Numbers as the script and scenario formats write them: hex with 0x or decimal, with an optional K, M, G
/// or T suffix (powers of 1024).
/// </summary>
public static class NumberText
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
            byte[] hexValues = HexValues;
            foreach (byte b in text)
            {
                uint d = hexValues[b];
                if (d > 0xF)
                    return false;
                v = (v << 4) | d;
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

    /// <summary>
    /// The value of every byte as a hex digit, 0xFF for a byte that is none. A table rather than range tests:
    /// addresses mix digits and letters unpredictably, and a mispredicted branch per digit costs more than a load.
    /// </summary>
    private static readonly byte[] HexValues = BuildHexValues();

    private static byte[] BuildHexValues()
    {
        var values = new byte[256];
        values.AsSpan().Fill(0xFF);
        for (int i = 0; i < 10; i++)
            values['0' + i] = (byte)i;
        for (int i = 0; i < 6; i++)
            values['a' + i] = values['A' + i] = (byte)(10 + i);
        return values;
    }
}
