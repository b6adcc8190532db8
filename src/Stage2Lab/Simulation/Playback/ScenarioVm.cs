using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.Kvm.Policies;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Playback;

/// <summary>Builds the VM a scenario describes (host, VMAs, the VM with its policy), before any memslot.</summary>
public static class ScenarioVm
{
    /// <param name="policyName">A policy, or a policy with a flavor (v7.4+pkvm), which overrides the scenario's vm.pkvm.</param>
    /// <param name="tablePages">Where the VM's table pages come from (see <see cref="KvmVm.ReturnTablePages"/>); null: fresh ones.</param>
    /// <param name="hitMemo">Whether the VM serves hits from its hit memo (<see cref="PlayerOptions.HitMemo"/>).</param>
    public static KvmVm Create(Scenario s, string policyName, TablePageCache? tablePages = null, bool hitMemo = true)
    {
        HostAddressSpace host = HostBuilder.Build(s);
        PolicyTarget target = PolicyRegistry.FindTarget(policyName) ?? throw new ArgumentException($"unknown policy '{policyName}'", nameof(policyName));
        FaultPolicy policy = target.Policy.Create();
        var config = new VmConfig
        {
            Granule = s.Host.PageSize,
            IpaBits = s.Vm.IpaBits,
            Features = new CpuFeatures(s.Vm.Fwb, s.Vm.Dic, s.Vm.RangeTlbi),
            MaxSlots = s.Vm.MaxSlots,
            EagerSplitChunkBytes = s.Vm.EagerSplitChunkBytes,
            ManualDirtyLogProtect = s.Vm.ManualDirtyLogProtect,
            Flavor = target.Flavor ?? s.Vm.Pkvm,
            NestedStage2 = s.Nested is { } nested ? new GuestStage2(nested.L1Stage2, s.Host.PageSize.PageSize) : null,
        };
        return new KvmVm(config, host, policy, tablePages, hitMemo);
    }
}
