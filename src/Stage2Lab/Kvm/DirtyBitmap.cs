using System.Numerics;

namespace Stage2Lab.Kvm;

/// <summary>
/// A memslot's dirty bitmap: one bit per page, in 64-bit words as KVM keeps it. The model keeps the words in
/// chunks made at the first bit set in them (a chunk of words that were never set reads as zeros): a 4 GiB slot
/// of 4K pages has 16,384 words, 128 KiB that a VM with a few dirty pages would otherwise allocate whole (a
/// large-object allocation, which only a full collection reclaims) each time logging is enabled.
/// </summary>
public sealed class DirtyBitmap
{
    /// <summary>Words per chunk: 128 words (1 KiB) cover 8,192 pages; a 4 GiB slot of 4K pages has 128 chunks.</summary>
    private const int ChunkShift = 7;
    private const int ChunkWords = 1 << ChunkShift;

    private readonly ulong[]?[] _chunks;

    public DirtyBitmap(ulong pages)
    {
        Pages = pages;
        WordCount = (int)((pages + 63) / 64);
        _chunks = new ulong[]?[(WordCount + ChunkWords - 1) >> ChunkShift];
    }

    public ulong Pages { get; }

    public int WordCount { get; }

    /// <summary>mark_page_dirty_in_slot.</summary>
    public void Set(ulong pageIndex)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(pageIndex, Pages);
        int word = (int)(pageIndex >> 6);
        ulong[] chunk = _chunks[word >> ChunkShift] ??= new ulong[ChunkWords];
        chunk[word & (ChunkWords - 1)] |= 1UL << (int)(pageIndex & 63);
    }

    public bool IsSet(ulong pageIndex) => (Word((int)(pageIndex >> 6)) & (1UL << (int)(pageIndex & 63))) != 0;

    public void SetAll()
    {
        for (ulong i = 0; i < Pages; i++)
            Set(i);
    }

    /// <summary>Clears every bit.</summary>
    public void Clear()
    {
        foreach (ulong[]? chunk in _chunks)
        {
            if (chunk is not null)
                Array.Clear(chunk);
        }
    }

    public ulong Word(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)WordCount, nameof(index));
        return _chunks[index >> ChunkShift] is { } chunk ? chunk[index & (ChunkWords - 1)] : 0;
    }

    /// <summary>xchg(&amp;dirty_bitmap[i], 0): returns and clears one word.</summary>
    public ulong TakeWord(int index) => ClearBits(index, ulong.MaxValue);

    /// <summary>Clears the bits of <paramref name="mask"/> in word <paramref name="index"/>; returns those that were set.</summary>
    public ulong ClearBits(int index, ulong mask)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)WordCount, nameof(index));
        if (_chunks[index >> ChunkShift] is not { } chunk)
            return 0;
        ref ulong word = ref chunk[index & (ChunkWords - 1)];
        ulong cleared = word & mask;
        word &= ~mask;
        return cleared;
    }

    public long CountSet()
    {
        long n = 0;
        foreach (ulong[]? chunk in _chunks)
        {
            if (chunk is null)
                continue;
            foreach (ulong w in chunk)
                n += BitOperations.PopCount(w);
        }
        return n;
    }
}
