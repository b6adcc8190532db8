using System.Runtime.CompilerServices;
using Stage2Lab.Arch;
using Stage2Lab.PageTables;

namespace Stage2Lab.Simulation.Tlb;

/// <summary>
/// A simulator-side memo of the stage-2 leaf level at recently translated IPAs, so that a walk does not re-read
/// the real table for every stage-1 table address. It is not part of the modelled hardware and never changes a
/// count: only mapped leaves are remembered (a fault that later maps an invalid entry needs no TLBI, so a
/// remembered "unmapped" could go stale), and every stage-2 invalidation KVM issues forgets everything at once
/// (a generation bump), since a valid leaf only ever changes through break-before-make or unmap, both of which
/// invalidate. Direct-mapped by the IPA's page number; nothing is allocated after construction.
/// </summary>
internal sealed class Stage2LeafMemo
{
    private const int Entries = 4096;

    private readonly ulong[] _pages = new ulong[Entries];
    private readonly int[] _generations = new int[Entries];
    private readonly sbyte[] _levels = new sbyte[Entries];
    private readonly Stage2PageTable _stage2;
    private readonly int _pageShift;
    private readonly bool _enabled;
    private int _generation = 1;

    /// <param name="enabled">False: every lookup reads the table (tests use it to show the memo changes nothing).</param>
    public Stage2LeafMemo(Stage2PageTable stage2, bool enabled = true)
    {
        _stage2 = stage2;
        _pageShift = stage2.Granule.PageShift;
        _enabled = enabled;
    }

    /// <summary>Changes whenever the memo forgets: other simulator-side memos derived from stage-2 leaves key on it.</summary>
    public int Generation => _generation;

    /// <summary>Forgets everything (a stage-2 invalidation happened).</summary>
    public void Forget() => _generation++;

    /// <summary>The level of the valid leaf translating <paramref name="ipa"/> (whatever its permissions), or -1
    /// with <paramref name="faultLevel"/> the level of the invalid entry the walk met.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int LeafLevel(ulong ipa, out int faultLevel)
    {
        ulong page = ipa >> _pageShift;
        int slot = (int)(page & (Entries - 1));
        if (_pages[slot] == page && _generations[slot] == _generation)
        {
            faultLevel = 0;
            return _levels[slot];
        }
        return Walk(ipa, page, slot, out faultLevel);
    }

    private int Walk(ulong ipa, ulong page, int slot, out int faultLevel)
    {
        Translation t = _stage2.Translate(ipa, AccessKind.Read);
        if (t.Outcome is TranslationOutcome.TranslationFault or TranslationOutcome.AddressSizeFault)
        {
            faultLevel = t.Level;
            return -1;
        }
        faultLevel = 0;
        if (!_enabled)
            return t.Level;
        _pages[slot] = page;
        _generations[slot] = _generation;
        _levels[slot] = (sbyte)t.Level;
        return t.Level;
    }
}
