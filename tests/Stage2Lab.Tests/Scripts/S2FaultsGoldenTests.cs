using System.Security.Cryptography;
using System.Text;
using Stage2Lab.Simulation.Scripts;

namespace Stage2Lab.Tests.Scripts;

/// <summary>
/// Every fault-path golden vector (output of the kernel's own mmu.c fault path under v6.18, v5.14, seed-v3,
/// v5.13 and v5.9 in fgolden/, under v7.4 with and without pkvm in fgolden-v74/) must match byte for byte; the
/// largest ones are checked by md5, line and byte count.
/// </summary>
public class S2FaultsGoldenTests
{
    public static TheoryData<string> Goldens()
    {
        var data = new TheoryData<string>();
        foreach (string dir in new[] { RepoPaths.FaultGolden, RepoPaths.FaultGoldenV74 })
        {
            foreach (string file in Directory.EnumerateFiles(dir, "*.s2faults").Order(StringComparer.Ordinal))
                data.Add(Path.GetRelativePath(RepoPaths.Shared, file));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Goldens))]
    public void Replay_matches_the_kernel_byte_for_byte(string name)
    {
        string script = Path.Combine(RepoPaths.Shared, name);
        using var source = ScriptSource.OpenFile(script);
        var output = new StringWriter { NewLine = "\n" };
        S2FaultsScript.Run(source, output);
        string actual = output.ToString();

        string outFile = Path.ChangeExtension(script, ".out");
        if (File.Exists(outFile))
        {
            Assert.Equal(File.ReadAllText(outFile), actual);
            return;
        }
        string[] md5 = File.ReadAllText(Path.ChangeExtension(script, ".md5")).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        byte[] bytes = Encoding.UTF8.GetBytes(actual);
        Assert.Equal(md5[0], Convert.ToHexStringLower(MD5.HashData(bytes)));
        Assert.Equal(long.Parse(md5[1]), actual.Count(c => c == '\n'));
        Assert.Equal(long.Parse(md5[2]), bytes.LongLength);
    }

    [Fact]
    public void Every_policy_has_golden_vectors()
    {
        var names = Directory.EnumerateFiles(RepoPaths.FaultGolden, "*.s2faults").Select(f => Path.GetFileName(f)).ToList();
        Assert.True(names.Count >= 300, "expected the ~325 shared fault goldens in " + RepoPaths.FaultGolden);
        foreach (string prefix in new[] { "v514-", "seedv3-", "v513-", "v59-" })
            Assert.Contains(names, n => n.StartsWith(prefix, StringComparison.Ordinal));
        var newest = Directory.EnumerateFiles(RepoPaths.FaultGoldenV74, "*.s2faults").Select(f => Path.GetFileName(f)).ToList();
        Assert.Equal(77, newest.Count(n => n.StartsWith("v74-", StringComparison.Ordinal)));
        Assert.Equal(77, newest.Count(n => n.StartsWith("v74pkvm-", StringComparison.Ordinal)));
    }
}
