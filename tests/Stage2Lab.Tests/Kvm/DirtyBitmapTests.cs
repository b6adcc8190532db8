using Stage2Lab.Kvm;

namespace Stage2Lab.Tests.Kvm;

/// <summary>
/// The dirty bitmap keeps its words in chunks made at the first bit set in them: every word reads, takes and
/// clears as one flat bitmap of (pages + 63) / 64 words does, across chunk edges and at the last page.
/// </summary>
public class DirtyBitmapTests
{
    /// <summary>A 4 GiB slot of 4K pages, with pages around the 8,192-page chunk edges and the last one.</summary>
    private const ulong Pages = 1UL << 20;
    private static readonly ulong[] Marked = [0, 63, 64, 8191, 8192, 8193, 500_000, Pages - 1];

    [Fact]
    public void Set_pages_read_back_and_no_other()
    {
        var bitmap = new DirtyBitmap(Pages);
        foreach (ulong page in Marked)
            bitmap.Set(page);

        Assert.Equal(16_384, bitmap.WordCount);
        Assert.Equal(Marked.Length, bitmap.CountSet());
        var flat = new ulong[bitmap.WordCount];
        foreach (ulong page in Marked)
            flat[page >> 6] |= 1UL << (int)(page & 63);
        for (int w = 0; w < bitmap.WordCount; w++)
            Assert.Equal(flat[w], bitmap.Word(w));
        Assert.True(bitmap.IsSet(8192));
        Assert.False(bitmap.IsSet(8194));
    }

    [Fact]
    public void Taking_and_clearing_words_leaves_the_rest()
    {
        var bitmap = new DirtyBitmap(Pages);
        foreach (ulong page in Marked)
            bitmap.Set(page);

        Assert.Equal((1UL << 63) | 1UL, bitmap.TakeWord(0));
        Assert.Equal(0UL, bitmap.TakeWord(0));
        Assert.Equal(0UL, bitmap.TakeWord(100));   // a word of a chunk never made
        Assert.Equal(0b11UL, bitmap.ClearBits(128, 0b111));   // pages 8192 and 8193 were set, 8194 was not
        Assert.Equal(Marked.Length - 4, bitmap.CountSet());

        bitmap.Clear();
        Assert.Equal(0, bitmap.CountSet());
    }

    [Fact]
    public void A_page_or_word_beyond_the_slot_is_refused()
    {
        var bitmap = new DirtyBitmap(100);   // two words, one chunk of 128
        Assert.Throws<ArgumentOutOfRangeException>(() => bitmap.Set(100));
        Assert.Throws<ArgumentOutOfRangeException>(() => bitmap.Word(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => bitmap.TakeWord(2));
    }

    [Fact]
    public void Set_all_sets_exactly_the_slot_pages()
    {
        var bitmap = new DirtyBitmap(8200);
        bitmap.SetAll();
        Assert.Equal(8200, bitmap.CountSet());
        Assert.Equal(0xffUL, bitmap.Word(128));
    }
}
