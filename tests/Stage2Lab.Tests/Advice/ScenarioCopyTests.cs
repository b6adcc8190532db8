using System.Collections;
using System.Reflection;
using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Simulation.Advice;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Tests.Advice;

/// <summary>
/// A changed scenario is a copy: every field of every item is copied (a field added later and forgotten fails
/// here), and changing the copy leaves the scenario as read untouched.
/// </summary>
public class ScenarioCopyTests
{
    private static readonly Type[] ItemTypes =
        [typeof(HostSpec), typeof(VmSpec), typeof(VmaSpec), typeof(MemslotSpec), typeof(RangeSpec),
         .. typeof(TimelineEvent).Assembly.GetTypes().Where(t => t.IsSubclassOf(typeof(TimelineEvent)) && !t.IsAbstract)];

    [Fact]
    public void Every_settable_field_of_every_item_is_copied()
    {
        var s = new Scenario { Name = "n", Description = "d", SourceFile = "f.yaml", Host = Filled<HostSpec>(), Vm = Filled<VmSpec>() };
        s.Host.Ram.Add(Filled<RangeSpec>());
        s.Host.Devices.Add(Filled<RangeSpec>());
        s.Vm.Policies.Add("v6.18");
        VmaSpec m = Filled<VmaSpec>();
        m.Pieces.Add(new RemapPiece(0x1000, 0x2000, 0x3000));
        s.Mappings.Add(m);
        s.Memslots.Add(Filled<MemslotSpec>());
        foreach (Type t in ItemTypes.Where(t => t.IsSubclassOf(typeof(TimelineEvent))))
            s.Timeline.Add((TimelineEvent)Fill(Activator.CreateInstance(t)!));

        Scenario copy = ScenarioCopy.Of(s);

        AssertSameValues(s, copy);
        AssertSameValues(s.Host, copy.Host);
        AssertSameValues(s.Vm, copy.Vm);
        AssertSameValues(s.Host.Ram[0], copy.Host.Ram[0]);
        AssertSameValues(s.Mappings[0], copy.Mappings[0]);
        AssertSameValues(s.Memslots[0], copy.Memslots[0]);
        Assert.Equal(s.Timeline.Count, copy.Timeline.Count);
        for (int i = 0; i < s.Timeline.Count; i++)
            AssertSameValues(s.Timeline[i], copy.Timeline[i]);
    }

    [Fact]
    public void Changing_the_copy_leaves_the_original_as_it_was()
    {
        Scenario s = ScenarioReader.Load(Path.Combine(RepoPaths.Examples, "gpu-32g-bar-unaligned.yaml"));
        string before = ScenarioWriter.Write(s);
        Scenario copy = ScenarioCopy.Of(s);
        Assert.Equal(before, ScenarioWriter.Write(copy));
        copy.Mappings[1].Start += 1UL << 30;
        copy.Memslots[1].Ipa = 0;
        copy.Host.Thp = ThpMode.Never;
        ((WorkloadEvent)copy.Timeline[0]).Count = 9;
        Assert.Equal(before, ScenarioWriter.Write(s));
    }

    /// <summary>Every public settable property equal, every list property equal element by element but not the same list.</summary>
    private static void AssertSameValues(object expected, object actual)
    {
        Assert.Equal(expected.GetType(), actual.GetType());
        foreach (PropertyInfo p in expected.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            object? e = p.GetValue(expected);
            object? a = p.GetValue(actual);
            if (e is not null && ItemTypes.Contains(e.GetType()))
            {
                Assert.NotSame(e, a);
                AssertSameValues(e, a!);
            }
            else if (e is IList list)
            {
                // A list the item owns is copied; one it only refers to (a trace's contents) may be shared.
                if (!p.CanWrite)
                    Assert.NotSame(e, a);
                Assert.Equal(list.Cast<object>().Select(Describe), ((IList)a!).Cast<object>().Select(Describe));
            }
            else if (p.CanWrite)
            {
                Assert.True(Equals(e, a), $"{expected.GetType().Name}.{p.Name}: {e} copied as {a}");
            }
        }
    }

    private static string Describe(object item) => item is RangeSpec r ? $"{r.Name}:{r.Base}:{r.SizeBytes}:{r.Where}" : item.ToString()!;

    private static T Filled<T>()
        where T : new() => (T)Fill(new T());

    /// <summary>Sets every public settable property to a value that is not its default.</summary>
    private static object Fill(object item)
    {
        foreach (PropertyInfo p in item.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            Type t = Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType;
            object? value = t switch
            {
                _ when t == typeof(string) => "s-" + p.Name,
                _ when t == typeof(ulong) => 0x1234_5000UL + (ulong)p.Name.Length,
                _ when t == typeof(int) => 7 + p.Name.Length,
                _ when t == typeof(double) => 1.25,
                _ when t == typeof(bool) => !(bool)(p.GetValue(item) ?? false),
                _ when t == typeof(SourceSpan) => new SourceSpan(3, 4, "path." + p.Name),
                _ when t == typeof(Granule) => Granule.Size16K,
                _ when t.IsEnum => Enum.GetValues(t).Cast<object>().Last(v => !Equals(v, p.GetValue(item))),
                _ when t == typeof(MemslotSpec) => Filled<MemslotSpec>(),
                _ when t == typeof(List<(ulong Ipa, AccessKind Kind)>) => new List<(ulong Ipa, AccessKind Kind)> { (0x1000, AccessKind.Write) },
                _ => null,
            };
            if (value is not null)
                p.SetValue(item, value);
        }
        return item;
    }
}
