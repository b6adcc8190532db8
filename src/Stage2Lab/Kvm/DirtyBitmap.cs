using System.Numerics;

namespace Stage2Lab.Kvm;

/// <summary>A memslot's dirty bitmap: one bit per page, in 64-bit words as KVM keeps it.</summary>
public sealed class DirtyBitmap
{
    private readonly ulong[] _words;

    public DirtyBitmap(ulong pages)
    {
        Pages = pages;
        _words = new ulong[(pages + 63) / 64];
    }

    public ulong Pages { get; }

    public int WordCount => _words.Length;

    /// <summary>mark_page_dirty_in_slot.</summary>
    public void Set(ulong pageIndex) => _words[pageIndex >> 6] |= 1UL << (int)(pageIndex & 63);

    public bool IsSet(ulong pageIndex) => (_words[pageIndex >> 6] & (1UL << (int)(pageIndex & 63))) != 0;

    public void SetAll()
    {
        for (ulong i = 0; i < Pages; i++)
            Set(i);
    }

    public ulong Word(int index) => _words[index];

    /// <summary>xchg(&amp;dirty_bitmap[i], 0): returns and clears one word.</summary>
    public ulong TakeWord(int index)
    {
        ulong word = _words[index];
        _words[index] = 0;
        return word;
    }

    /// <summary>Clears the bits of <paramref name="mask"/> in word <paramref name="index"/>; returns those that were set.</summary>
    public ulong ClearBits(int index, ulong mask)
    {
        ulong cleared = _words[index] & mask;
        _words[index] &= ~mask;
        return cleared;
    }

    public long CountSet()
    {
        long n = 0;
        foreach (ulong w in _words)
            n += BitOperations.PopCount(w);
        return n;
    }
}
