using Stage2Lab.Arch;
using Stage2Lab.PageTables;

namespace Stage2Lab.Kvm;

/// <summary>Accesses of an L2 guest (nested virtualization): the shadow stage-2 walk, then kvm_handle_guest_abort's nested path.</summary>
public sealed partial class KvmVm
{
    /// <summary>The shadow stage 2 the L2 guest runs on (kvm->arch.nested_mmus), or null when the VM has no L2 guest.</summary>
    public Stage2Mmu? ShadowMmu => Mmu.Shadow;

    /// <summary>
    /// One access of the L2 guest at <paramref name="l2Ipa"/>. The hardware walks the shadow stage 2; on a fault,
    /// kvm_handle_guest_abort walks the L1 hypervisor's own stage 2 (kvm_walk_nested_s2): no leaf, or a leaf that
    /// does not allow the access (kvm_s2_handle_perm_fault), and the fault is L1's (kvm_inject_s2_fault);
    /// otherwise the L1 IPA it gives selects the memslot, and the policy maps into the shadow stage 2.
    /// </summary>
    public FaultResult AccessNested(ulong l2Ipa, AccessKind access, DecisionRecord? explain = null)
    {
        Stage2Mmu shadow = Mmu.Shadow ?? throw new InvalidOperationException("the VM runs no L2 guest (VmConfig.NestedStage2 is null)");
        GuestStage2 l1 = Config.NestedStage2!;
        HypVmCreated |= Config.ProtectedKvmEnabled;
        Translation t = shadow.Pgt.Access(l2Ipa, access);
        FaultResult result;
        if (t.IsMapped)
        {
            result = FaultResult.Hit();
            if (explain is not null)
            {
                explain.Begin(Policy.Name, l2Ipa, access, shadow.MaxBlockSizeBytes);
                explain.Add(new HardwareWalkStep(l2Ipa, WalkFinding.Hit, t.Level, t.Pa, Config.IpaBits));
                explain.Result = result;
            }
            LastDecision = explain;
            _counters.Count(result);
            return result;
        }

        if (explain is null && ExplainEveryFault)
            explain = new DecisionRecord();
        explain?.Begin(Policy.Name, l2Ipa, access, shadow.MaxBlockSizeBytes);
        FaultStatus status = t.Outcome == TranslationOutcome.PermissionFault ? FaultStatus.Permission : FaultStatus.Translation;
        if (t.Outcome == TranslationOutcome.AddressSizeFault && Policy.InjectsAbortBeyondIpaSize)
        {
            result = new FaultResult { Outcome = FaultOutcome.Injected, Status = FaultStatus.Translation, FaultLevel = t.Level };
            explain?.Add(new AbortInjectedStep(l2Ipa, Config.IpaBits));
        }
        else
        {
            explain?.Add(new HardwareWalkStep(l2Ipa, t.Outcome switch
            {
                TranslationOutcome.PermissionFault => WalkFinding.PermissionFault,
                TranslationOutcome.AddressSizeFault => WalkFinding.BeyondIpaSize,
                _ => WalkFinding.TranslationFault,
            }, t.Level, 0, Config.IpaBits));
            ulong faultIpa = l2Ipa & ~0xFFFUL;
            if (!l1.TryWalk(faultIpa, out NestedTranslation trans))
            {
                explain?.Add(new NestedWalkStep(faultIpa, false, 0, 0, Prot.None));
                result = ForwardToL1(faultIpa, FaultStatus.Translation, explain);
            }
            else
            {
                explain?.Add(new NestedWalkStep(faultIpa, true, trans.OutputIpa, trans.BlockSizeBytes, trans.Perms));
                bool allowed = access switch
                {
                    AccessKind.Write => trans.Writable,
                    AccessKind.Exec => trans.Executable,
                    _ => trans.Readable,
                };
                if (!allowed)
                {
                    explain?.Add(new NestedPermissionStep(access, trans.Perms));
                    result = ForwardToL1(faultIpa, FaultStatus.Permission, explain);
                }
                else
                {
                    result = HandleGuestAbort(shadow, l2Ipa, trans, access, status, t.Level, explain);
                }
            }
            result = result with { Status = status, FaultLevel = t.Level };
        }
        _counters.Count(result);
        if (explain is not null)
            explain.Result = result;
        LastDecision = explain;
        return result;
    }

    /// <summary>kvm_inject_s2_fault: the L1 hypervisor gets the stage-2 abort its own tables caused.</summary>
    private static FaultResult ForwardToL1(ulong l2Ipa, FaultStatus status, DecisionRecord? explain)
    {
        explain?.Add(new L1FaultInjectedStep(l2Ipa, status));
        return new FaultResult { Outcome = FaultOutcome.ForwardedToL1, Ipa = l2Ipa };
    }
}
