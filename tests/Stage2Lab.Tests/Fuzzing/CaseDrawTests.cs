using CsCheck;
using Stage2Lab.Simulation.Fuzzing;

namespace Stage2Lab.Tests.Fuzzing;

/// <summary>
/// A campaign draws its cases with <see cref="CaseChoice.Draw"/> and shrinks with CsCheck's generator: both must
/// give the same case from the same PCG state, or a campaign would shrink another case than the one it ran (and
/// every recorded campaign would find other cases). A CsCheck that draws otherwise fails here.
/// </summary>
public class CaseDrawTests
{
    [Theory]
    [InlineData(48)]
    [InlineData(7)]
    [InlineData(1)]
    public void Draw_gives_the_case_the_generator_gives(int maxEvents)
    {
        Gen<CaseChoice> gen = CaseChoice.Generator(maxEvents);
        int maxValues = 0;
        foreach (ulong seed in new ulong[] { 1, 2, 0xdead_beef_cafe })
        {
            for (ulong index = 0; index < 20_000; index++)
            {
                var pcgGen = new PCG((uint)(seed & 0x7fffffff) | 1, seed * 0x9E3779B97F4A7C15UL + index);
                var pcgDraw = new PCG((uint)(seed & 0x7fffffff) | 1, seed * 0x9E3779B97F4A7C15UL + index);
                CaseChoice expected = gen.Generate(pcgGen, null, out _);
                CaseChoice drawn = CaseChoice.Draw(pcgDraw, maxEvents);
                Assert.Equal(expected.Granule, drawn.Granule);
                Assert.Equal(expected.IpaSize, drawn.IpaSize);
                Assert.Equal(expected.Vmas, drawn.Vmas);
                Assert.Equal(expected.Events, drawn.Events);
                // The same numbers consumed: the next draw from either is the same.
                Assert.Equal(pcgGen.Next(), pcgDraw.Next());
                maxValues += drawn.Events.Count(e => e.Kind == uint.MaxValue);
            }
        }
        // The rare uint.MaxValue draws were among those compared.
        Assert.True(maxValues > 0);
    }
}
