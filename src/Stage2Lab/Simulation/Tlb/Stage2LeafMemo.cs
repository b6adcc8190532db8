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
/// invalidate. Direct-mapped, per leaf level, by the number of the leaf-sized block; nothing is allocated after construction.
/// </summary>
internal sealed class Stage2LeafMemo
{
    private const int Entries = 4096;
    private const int Levels = 4;

    // One direct-mapped memo per leaf level, keyed by the number of the leaf-sized block: a 2M block is one entry
    // for all its pages (the tables of a guest's stage 1 and a THP working set sit in few blocks).
    private readonly ulong[] _blocks = new ulong[Levels * Entries];
    private readonly int[] _generations = new int[Levels * Entries];
    private readonly int[] _levelShifts = new int[Levels];
    private readonly Stage2PageTable _stage2;
    private readonly bool _enabled;
    private int _generation = 1;
    private ulong _levelsPresent;

    /// <param name="enabled">False: every lookup reads the table (tests use it to show the memo changes nothing).</param>
    public Stage2LeafMemo(Stage2PageTable stage2, bool enabled = true)
    {
        _stage2 = stage2;
        _enabled = enabled;
        for (int level = 0; level < Levels; level++)
            _levelShifts[level] = stage2.Granule.LevelShift(level);
    }

    /// <summary>Changes whenever the memo forgets: other simulator-side memos derived from stage-2 leaves key on it.</summary>
    public int Generation => _generation;

    /// <summary>Forgets everything (a stage-2 invalidation happened).</summary>
    public void Forget()
    {
        _generation++;
        _levelsPresent = 0;
    }

    /// <summary>The level of the valid leaf translating <paramref name="ipa"/> (whatever its permissions), or -1
    /// with <paramref name="faultLevel"/> the level of the invalid entry the walk met.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int LeafLevel(ulong ipa, out int faultLevel)
    {
        // Largest leaves first; only levels that hold a remembered leaf of this generation are probed.
        ulong present = _levelsPresent;
        while (present != 0)
        {
            int level = System.Numerics.BitOperations.TrailingZeroCount(present);
            present &= present - 1;
            ulong block = ipa >> _levelShifts[level];
            int slot = level * Entries + (int)(block & (Entries - 1));
            if (_blocks[slot] == block && _generations[slot] == _generation)
            {
                faultLevel = 0;
                return level;
            }
        }
        return Walk(ipa, out faultLevel);
    }

    private int Walk(ulong ipa, out int faultLevel)
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
        ulong block = ipa >> _levelShifts[t.Level];
        int slot = t.Level * Entries + (int)(block & (Entries - 1));
        _blocks[slot] = block;
        _generations[slot] = _generation;
        _levelsPresent |= 1UL << t.Level;
        return t.Level;
    }
}
