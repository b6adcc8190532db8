using CsCheck;
using Stage2Lab.Kvm;

namespace Stage2Lab.Tests.Kvm;

/// <summary>
/// The memslot table (an AVL tree of bases and a lazily rebuilt lookup array, issue 12) against a plain list:
/// the overlap check of __kvm_set_memory_region, gfn_to_memslot and the IPA order agree after any sequence
/// of creations, moves and deletions.
/// </summary>
public class MemslotTableTests
{
    private const ulong Page = 4096;

    /// <summary>One operation: slot id, base in pages, size in pages, and whether to delete instead.</summary>
    private static readonly Gen<(int Id, ulong BasePages, ulong Pages, bool Delete)[]> Operations =
        Gen.Select(Gen.Int[0, 15], Gen.ULong[0, 255], Gen.ULong[1, 24], Gen.Int[0, 3].Select(k => k == 0)).Array[1, 80];

    [Fact]
    public void Agrees_with_a_linear_reference_after_any_sequence_of_changes()
    {
        Gen.Select(Operations, Gen.ULong[0, 300].Array[20]).Sample(t =>
        {
            var (ops, probes) = t;
            var table = new MemslotTable(32764);
            var reference = new List<Memslot>();
            foreach (var (id, basePages, pages, delete) in ops)
            {
                Memslot? existing = reference.Find(s => s.Id == id);
                if (delete)
                {
                    if (existing is not null)
                    {
                        table.Remove(existing);
                        reference.Remove(existing);
                    }
                    continue;
                }
                ulong ipa = basePages * Page, end = ipa + pages * Page;
                Memslot? expected = reference.Find(s => s.Id != id && s.Ipa < end && ipa < s.IpaEnd);
                Memslot? found = table.Overlapping(id, ipa, end);
                Assert.Equal(expected is null, found is null);
                if (found is not null)
                {
                    Assert.True(found.Id != id && found.Ipa < end && ipa < found.IpaEnd, "the slot reported overlaps");
                    continue;
                }
                // A create, or a move of an existing id (its old range leaves the table first, as in KVM).
                if (existing is not null)
                {
                    table.Remove(existing);
                    reference.Remove(existing);
                }
                var slot = new Memslot(id, ipa, end - ipa, 0x7f00_0000_0000 + ipa, MemslotFlags.None, 12);
                table.Add(slot);
                reference.Add(slot);
            }
            Assert.Equal(reference.Count, table.Count);
            Assert.Equal(reference.OrderBy(s => s.Ipa).Select(s => s.Id), table.InIpaOrder.ToArray().Select(s => s.Id));
            foreach (ulong probe in probes)
            {
                ulong ipa = probe * Page + 8;
                Assert.Equal(reference.Find(s => s.ContainsIpa(ipa))?.Id, table.Find(ipa)?.Id);
            }
        });
    }
}
