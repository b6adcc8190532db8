using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Fuzzing;
using static Stage2Lab.Tests.Robustness.CliProcess;

namespace Stage2Lab.Tests.Fuzzing;

/// <summary>
/// A fuzz worker hands what one case needs and its outcome does not (table pages, the tables' bookkeeping, the
/// checker's scratch) on to its next case. That must change nothing: cases run one after another on one runner
/// give the outcomes fresh runners give, case by case, and the campaign's JSON is the same for any --jobs.
/// </summary>
public class CaseReuseTests
{
    [Theory]
    [InlineData("v6.18", FuzzLayout.Any, VmFlavor.Kvm, 1UL)]
    [InlineData("v5.13", FuzzLayout.Any, VmFlavor.Kvm, 2UL)] // maps PFNMAP VMAs at slot creation
    [InlineData("v5.9", FuzzLayout.Ordinary, VmFlavor.Kvm, 3UL)]
    [InlineData("v7.4", FuzzLayout.Any, VmFlavor.Pkvm, 4UL)]
    [InlineData("bug-no-vma-bound", FuzzLayout.Ordinary, VmFlavor.Kvm, 1UL)] // violations among the cases
    [InlineData("bug-log-blocks", FuzzLayout.Any, VmFlavor.Kvm, 5UL)]
    public void Cases_on_a_reused_runner_give_what_fresh_runners_give(string policy, FuzzLayout layout, VmFlavor flavor, ulong seed)
    {
        var options = new FuzzOptions { Policy = policy, Layout = layout, Flavor = flavor, Seed = seed };
        var reused = new CaseRunner(options);
        int violations = 0;
        for (long index = 0; index < 400; index++)
        {
            var (choice, outcome) = Fuzzer.Case(reused, index);
            var (freshChoice, fresh) = Fuzzer.Case(new CaseRunner(options), index);
            Assert.Equal(freshChoice.Events, choice.Events);
            Assert.Equal((fresh.Events, fresh.EventNumber, fresh.Violation?.Kind), (outcome.Events, outcome.EventNumber, outcome.Violation?.Kind));
            Assert.Equal(fresh.Violation?.ToString(), outcome.Violation?.ToString());
            violations += outcome.Violation is null ? 0 : 1;
        }
        if (policy.StartsWith("bug-", StringComparison.Ordinal))
            Assert.True(violations > 0, "the buggy policy's cases include violations, so that those were compared too");
    }

    [Theory]
    [InlineData("v6.18", "any", "2")]
    [InlineData("bug-no-vma-bound", "ordinary", "1")]
    public void The_campaign_is_the_same_for_one_two_and_three_jobs(string policy, string layout, string seed)
    {
        string[] campaign = ["fuzz", "--policy", policy, "--layout", layout, "--seed", seed, "--events", "20000", "--format", "json"];
        var one = InProcess([.. campaign, "--jobs", "1"]);
        Assert.True(one.Code is 0 or 1, one.Err);
        foreach (string jobs in new[] { "2", "3" })
        {
            var r = InProcess([.. campaign, "--jobs", jobs]);
            Assert.Equal(one.Code, r.Code);
            Assert.Equal(one.Out, r.Out);
        }
    }
}
