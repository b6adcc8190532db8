namespace Stage2Lab.Arch;

/// <summary>
/// enum kvm_pgtable_prot (arch/arm64/include/asm/kvm_pgtable.h): the protection a caller asks for.
/// <see cref="X"/> stands for KVM_PGTABLE_PROT_PX|UX: FEAT_XNX is not modelled, so execute is one bit.
/// </summary>
[Flags]
public enum Prot : uint
{
    None = 0,
    X = 1 << 0,
    W = 1 << 1,
    R = 1 << 2,
    Device = 1 << 3,
    NormalNC = 1 << 4,

    RW = R | W,
    RWX = R | W | X,
}

public static class ProtExtensions
{
    /// <summary>
    /// The memory-type and execute combinations stage2_set_prot_attr (v6.19 pgtable.c) refuses with -EINVAL:
    /// DEVICE with NORMAL_NC, and X with either.
    /// </summary>
    public static bool IsRefused(this Prot prot)
    {
        bool device = (prot & Prot.Device) != 0;
        bool normalNc = (prot & Prot.NormalNC) != 0;
        if (device && normalNc)
            return true;
        return (device || normalNc) && (prot & Prot.X) != 0;
    }

    /// <summary>The letters used by the script formats: r w x, then d or n; "-" when empty.</summary>
    public static string ToLetters(this Prot prot)
    {
        Span<char> buffer = stackalloc char[5];
        int n = 0;
        if ((prot & Prot.R) != 0) buffer[n++] = 'r';
        if ((prot & Prot.W) != 0) buffer[n++] = 'w';
        if ((prot & Prot.X) != 0) buffer[n++] = 'x';
        if ((prot & Prot.Device) != 0) buffer[n++] = 'd';
        if ((prot & Prot.NormalNC) != 0) buffer[n++] = 'n';
        return n == 0 ? "-" : new string(buffer[..n]);
    }

    /// <summary>Parses "rwx", "rwd", "rn", "-" ... ; at most one memory-type letter.</summary>
    public static bool TryParseLetters(ReadOnlySpan<char> text, out Prot prot, out string? error)
    {
        prot = Prot.None;
        error = null;
        if (text.SequenceEqual("-"))
            return true;
        if (text.IsEmpty)
        {
            error = "empty PROT";
            return false;
        }
        foreach (char c in text)
        {
            Prot bit = c switch
            {
                'r' => Prot.R,
                'w' => Prot.W,
                'x' => Prot.X,
                'd' => Prot.Device,
                'n' => Prot.NormalNC,
                _ => Prot.None,
            };
            if (bit == Prot.None)
            {
                error = $"bad PROT letter '{c}'";
                return false;
            }
            if ((prot & bit) != 0)
            {
                error = $"PROT letter '{c}' given twice";
                return false;
            }
            prot |= bit;
        }
        if ((prot & (Prot.Device | Prot.NormalNC)) == (Prot.Device | Prot.NormalNC))
        {
            error = "at most one memory-type letter (d or n)";
            return false;
        }
        return true;
    }
}
