using Stage2Lab.Simulation.Advice;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Tests.Advice;

/// <summary>Scenarios for advise, each built so that one kind of change lifts its binding constraint.</summary>
internal static class AdviceKit
{
    public static Scenario Parse(string yaml, string name = "advice.yaml") => ScenarioReader.Parse(yaml, name);

    public static AdviceResult Advise(string yaml, params string[] policies) => Advise(Parse(yaml), policies);

    public static AdviceResult Advise(Scenario s, params string[] policies) =>
        Advisor.Advise(s, new AdviceOptions { Policies = policies.Length > 0 ? policies : [.. s.Vm.Policies], MaxParallelism = 2 });

    public static Suggestion Only(AdviceResult result, ChangeKind kind) => Assert.Single(result.Suggestions, s => s.Change.Kind == kind);

    /// <summary>A 1G BAR mmap'ed where HVA ≡ PA, under host-pte with the host mapping it with pages.</summary>
    public const string HostPteBar = """
        host:
          ram: [ { name: dram, base: 0x8000_0000, size: 8G } ]
          devices: [ { name: bar, base: 0x100_0000_0000, size: 1G } ]
        mappings:
          - { name: bar, kind: pfnmap, device: bar, start: 0x7000_0000_0000, size: 1G }
        vm: { ipa-bits: 40, policies: [host-pte] }
        memslots:
          - { id: 1, ipa: 0x80_0000_0000, mapping: bar }
        timeline:
          - workload: { name: driver, pattern: random, slot: 1, count: 20000, seed: 3, mix: { read: 50, write: 50 } }
        """;

    /// <summary>A 1G BAR whose HVA agrees with its PA, in a slot whose IPA is 1M off a block.</summary>
    public const string MisplacedBarSlot = """
        host:
          ram: [ { name: dram, base: 0x8000_0000, size: 8G } ]
          devices: [ { name: bar, base: 0x100_0000_0000, size: 1G } ]
        mappings:
          - { name: bar, kind: pfnmap, device: bar, start: 0x7000_0000_0000, size: 1G }
        vm: { ipa-bits: 40, policies: [v6.18] }
        memslots:
          - { id: 1, ipa: 0x80_0010_0000, mapping: bar }
        timeline:
          - workload: { name: driver, pattern: random, slot: 1, count: 20000, seed: 3, mix: { read: 50, write: 50 } }
        """;

    /// <summary>THP-backed RAM mmap'ed 1M off the IPA's block offset (FWB: no cleaning, so blocks are cheaper whatever is touched).</summary>
    public const string MisalignedRam = """
        host: { page-size: 4K, thp: always, ram: [ { name: dram, base: 0x8000_0000, size: 8G } ] }
        mappings:
          - { name: guest-ram, kind: anon, start: 0x7f00_0010_0000, size: 1G }
        vm: { ipa-bits: 40, fwb: true, policies: [v6.18] }
        memslots:
          - { id: 0, ipa: 0x4000_0000, mapping: guest-ram }
        timeline:
          - workload: { name: touch, pattern: sequential, slot: 0, stride: 64K, mix: { write: 100 } }
        """;

    /// <summary>THP-backed RAM of 1025M: the last 1M lies in a 2M block that sticks out of the slot.</summary>
    public const string RaggedRamSlot = """
        host: { page-size: 4K, thp: always, ram: [ { name: dram, base: 0x8000_0000, size: 8G } ] }
        mappings:
          - { name: guest-ram, kind: anon, start: 0x7f00_0000_0000, size: 1025M }
        vm: { ipa-bits: 40, policies: [v6.18] }
        memslots:
          - { id: 0, ipa: 0x4000_0000, mapping: guest-ram }
        timeline:
          - workload: { name: tail, pattern: sequential, ipa: 0x8000_0000, size: 1M, stride: 4K, mix: { write: 100 } }
        """;

    /// <summary>One dirty-logged slot over guest RAM and a 64M framebuffer that the guest rewrites while logging is on.</summary>
    public const string LoggedRamAndFramebuffer = """
        host: { page-size: 4K, thp: always, ram: [ { name: dram, base: 0x8000_0000, size: 8G } ] }
        mappings:
          - { name: guest-ram, kind: anon, start: 0x7f00_0000_0000, size: 1G }
          - { name: vram, kind: anon, start: 0x7f00_4000_0000, size: 64M }
        vm: { ipa-bits: 40, policies: [v6.18] }
        memslots:
          - { id: 0, ipa: 0x4000_0000, hva: 0x7f00_0000_0000, size: 1088M }
        timeline:
          - dirty-log: { slot: 0, enable: true }
          - workload: { name: frames, pattern: sequential, ipa: 0x8000_0000, size: 64M, stride: 4K, mix: { write: 100 } }
          - workload: { name: ram, pattern: random, ipa: 0x4000_0000, size: 1G, count: 20000, seed: 1, mix: { read: 100 } }
          - get-dirty-log: { slot: 0 }
        """;

    /// <summary>Anonymous RAM without THP (transparent_hugepage=never), every page written once.</summary>
    public const string RamWithoutThp = """
        host: { page-size: 4K, thp: never, ram: [ { name: dram, base: 0x8000_0000, size: 8G } ] }
        mappings:
          - { name: guest-ram, kind: anon, start: 0x7f00_0000_0000, size: 512M }
        vm: { ipa-bits: 40, policies: [v5.13, v6.18] }
        memslots:
          - { id: 0, ipa: 0x4000_0000, mapping: guest-ram }
        timeline:
          - workload: { name: touch, pattern: sequential, slot: 0, stride: 4K, mix: { write: 100 } }
        """;

    /// <summary>
    /// The same RAM, but the guest writes only one page in every 64K: without FWB a 2M block costs a 2M clean to
    /// PoC, 32 times what the pages touched cost, so THP (or hugetlbfs) would cost more than it saves.
    /// </summary>
    public const string SparselyTouchedRamWithoutThp = """
        host: { page-size: 4K, thp: never, ram: [ { name: dram, base: 0x8000_0000, size: 8G } ] }
        mappings:
          - { name: guest-ram, kind: anon, start: 0x7f00_0000_0000, size: 512M }
        vm: { ipa-bits: 40, policies: [v6.18] }
        memslots:
          - { id: 0, ipa: 0x4000_0000, mapping: guest-ram }
        timeline:
          - workload: { name: touch, pattern: sequential, slot: 0, stride: 64K, mix: { write: 100 } }
        """;

    /// <summary>A 1G BAR under v5.13: slot creation maps it page by page, whatever the layout.</summary>
    public const string BarUnderV513 = """
        host:
          ram: [ { name: dram, base: 0x8000_0000, size: 8G } ]
          devices: [ { name: bar, base: 0x100_0000_0000, size: 1G } ]
        mappings:
          - { name: bar, kind: pfnmap, device: bar, start: 0x7000_0000_0000, size: 1G }
        vm: { ipa-bits: 40, policies: [v5.13] }
        memslots:
          - { id: 1, ipa: 0x80_0000_0000, mapping: bar }
        timeline:
          - workload: { name: driver, pattern: random, slot: 1, count: 2000, seed: 3, mix: { read: 50, write: 50 } }
        """;

    /// <summary>THP-backed RAM written page by page while it is dirty-logged.</summary>
    public const string LoggedRam = """
        host: { page-size: 4K, thp: always, ram: [ { name: dram, base: 0x8000_0000, size: 8G } ] }
        mappings:
          - { name: guest-ram, kind: anon, start: 0x7f00_0000_0000, size: 256M }
        vm: { ipa-bits: 40, policies: [v6.18, v7.4] }
        memslots:
          - { id: 0, ipa: 0x4000_0000, mapping: guest-ram }
        timeline:
          - dirty-log: { slot: 0, enable: true }
          - workload: { name: touch, pattern: sequential, slot: 0, stride: 4K, mix: { write: 100 } }
          - get-dirty-log: { slot: 0 }
        """;

    /// <summary>1G hugetlbfs RAM (1G-aligned HVA) in a slot whose IPA is 2M off a 1G boundary: 2M blocks only.</summary>
    public const string HugetlbRamSlotOffIpa = """
        host: { page-size: 4K, ram: [ { name: dram, base: 0x8000_0000, size: 8G } ] }
        mappings:
          - { name: huge-ram, kind: hugetlb, huge-page-size: 1G, start: 0x7f40_0000_0000, size: 2G }
        vm: { ipa-bits: 40, policies: [v6.18] }
        memslots:
          - { id: 0, ipa: 0x4020_0000, mapping: huge-ram }
        timeline:
          - workload: { name: touch, pattern: sequential, slot: 0, stride: 2M, mix: { write: 100 } }
        """;
}
