using System.Numerics;
using System.Runtime.CompilerServices;
using Stage2Lab.Arch;
using Stage2Lab.PageTables;

namespace Stage2Lab.Simulation.Tlb;

/// <summary>
/// A simulator-side memo of the stage-2 leaf level at recently translated IPAs, so that a walk does not re-read
/// the real table for every stage-1 table address and final IPA. It is not part of the modelled hardware and never
/// changes a count: only mapped leaves are remembered (a fault that later maps an invalid entry needs no TLBI, so a
/// remembered "unmapped" could go stale), and every stage-2 invalidation KVM issues forgets everything at once
/// (a generation bump), since a valid leaf only ever changes through break-before-make or unmap, both of which
/// invalidate. Nothing is allocated after construction.
/// <para>
/// Pages (last-level leaves) are remembered as one bit each, grouped by the table-sized chunk that holds them
/// (512 pages = 2M with 4K pages): a random stream over a GiB of 4K stage-2 pages is 512 chunks of 64 bytes, which
/// stays in the host's caches where the real level-3 tables (2 MiB of descriptors) do not. Blocks are remembered
/// by the number of the block, in one direct-mapped table for all block levels.
/// </para>
/// </summary>
internal sealed class Stage2LeafMemo
{
    /// <summary>Bits of page knowledge kept (128 KiB): 2,048 chunks of 4K pages (4 GiB), 512 of 16K, 128 of 64K.</summary>
    private const int PageBits = 1 << 20;
    /// <summary>Blocks remembered (64 KiB): 4,096, 8 GiB of 2M blocks.</summary>
    private const int BlockSlots = 1 << 12;

    private readonly Stage2PageTable _stage2;
    private readonly bool _enabled;
    private readonly int _pageShift;
    private readonly int _chunkShift;
    private readonly int _pageIndexMask;
    private readonly int _wordsPerChunk;
    private readonly int _chunkSlotMask;
    private readonly ulong[] _chunkKeys;
    private readonly int[] _chunkGenerations;
    private readonly ulong[] _pageBits;
    private readonly BlockSlot[] _blocks = new BlockSlot[BlockSlots];
    private readonly int[] _levelShifts = new int[Granule.LastLevel + 1];
    private int _generation = 1;
    private bool _pagesKnown;
    private uint _blockLevelsKnown;

    /// <param name="enabled">False: every lookup reads the table (tests use it to show the memo changes nothing).</param>
    public Stage2LeafMemo(Stage2PageTable stage2, bool enabled = true)
    {
        _stage2 = stage2;
        _enabled = enabled;
        Granule g = stage2.Granule;
        for (int level = 0; level <= Granule.LastLevel; level++)
            _levelShifts[level] = g.LevelShift(level);
        _pageShift = g.PageShift;
        _chunkShift = g.LevelShift(Granule.LastLevel - 1);
        _pageIndexMask = g.EntriesPerTable - 1;
        _wordsPerChunk = g.EntriesPerTable / 64;
        int chunkSlots = PageBits / g.EntriesPerTable;
        _chunkSlotMask = chunkSlots - 1;
        _chunkKeys = new ulong[chunkSlots];
        _chunkGenerations = new int[chunkSlots];
        _pageBits = new ulong[PageBits / 64];
    }

    /// <summary>Changes whenever the memo forgets: other simulator-side memos derived from stage-2 leaves key on it.</summary>
    public int Generation => _generation;

    /// <summary>Forgets everything (a stage-2 invalidation happened).</summary>
    public void Forget()
    {
        _generation++;
        _pagesKnown = false;
        _blockLevelsKnown = 0;
    }

    /// <summary>The level of the valid leaf translating <paramref name="ipa"/> (whatever its permissions), or -1
    /// with <paramref name="faultLevel"/> the level of the invalid entry the walk met.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int LeafLevel(ulong ipa, out int faultLevel)
    {
        // Within one generation at most one valid leaf translates an IPA, so the probe order does not matter.
        if (_pagesKnown)
        {
            ulong chunk = ipa >> _chunkShift;
            int slot = (int)chunk & _chunkSlotMask;
            int page = (int)(ipa >> _pageShift) & _pageIndexMask;
            if (_chunkKeys[slot] == chunk && _chunkGenerations[slot] == _generation
                && (_pageBits[slot * _wordsPerChunk + (page >> 6)] >> page & 1) != 0)
            {
                faultLevel = 0;
                return Granule.LastLevel;
            }
        }
        uint levels = _blockLevelsKnown;
        while (levels != 0)
        {
            int level = BitOperations.TrailingZeroCount(levels);
            levels &= levels - 1;
            ulong block = ipa >> _levelShifts[level];
            ref BlockSlot s = ref _blocks[BlockSlotOf(block, level)];
            if (s.Block == block && s.Level == level && s.Generation == _generation)
            {
                faultLevel = 0;
                return level;
            }
        }
        return Walk(ipa, out faultLevel);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int BlockSlotOf(ulong block, int level) => (int)((block ^ ((ulong)level << 10)) & (BlockSlots - 1));

    private int Walk(ulong ipa, out int faultLevel)
    {
        Translation t = _stage2.Translate(ipa, AccessKind.Read);
        if (t.Outcome is TranslationOutcome.TranslationFault or TranslationOutcome.AddressSizeFault)
        {
            faultLevel = t.Level;
            return -1;
        }
        faultLevel = 0;
        if (_enabled)
            Remember(ipa, t.Level);
        return t.Level;
    }

    private void Remember(ulong ipa, int level)
    {
        if (level == Granule.LastLevel)
        {
            ulong chunk = ipa >> _chunkShift;
            int slot = (int)chunk & _chunkSlotMask;
            Span<ulong> bits = _pageBits.AsSpan(slot * _wordsPerChunk, _wordsPerChunk);
            if (_chunkKeys[slot] != chunk || _chunkGenerations[slot] != _generation)
            {
                bits.Clear();
                _chunkKeys[slot] = chunk;
                _chunkGenerations[slot] = _generation;
            }
            int page = (int)(ipa >> _pageShift) & _pageIndexMask;
            bits[page >> 6] |= 1UL << page;
            _pagesKnown = true;
            return;
        }
        ulong block = ipa >> _levelShifts[level];
        _blocks[BlockSlotOf(block, level)] = new BlockSlot { Block = block, Level = level, Generation = _generation };
        _blockLevelsKnown |= 1u << level;
    }

    /// <summary>Neighbouring blocks of a level fill neighbouring slots (four to a cache line).</summary>
    private struct BlockSlot
    {
        public ulong Block;
        public int Level;
        public int Generation;
    }
}
