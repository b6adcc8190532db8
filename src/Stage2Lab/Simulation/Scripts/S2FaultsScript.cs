using System.Text;
using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.Kvm.Policies;

namespace Stage2Lab.Simulation.Scripts;

/// <summary>
/// s2faults v1 (shared/spec/s2faults.md): a host, memslots and guest accesses, run through the host, KVM and
/// fault-path model. The script is checked whole (host description included) before it runs.
/// </summary>
public static class S2FaultsScript
{
    /// <summary>
    /// Runs a script and returns the VM it built. Throws <see cref="ScriptException"/> for a malformed line.
    /// <paramref name="afterEvent"/>, when given, sees every event line after it ran (an invariant checker);
    /// <paramref name="policyOverride"/> runs it under another policy than its header's.
    /// </summary>
    public static KvmVm Run(ScriptSource source, TextWriter output, bool stats = false, Func<int, DecisionRecord?>? explainLine = null, Action<ScriptEvent>? afterEvent = null, string? policyOverride = null)
    {
        var check = new Runner(source.Name, null) { PolicyOverride = policyOverride };
        while (source.TryReadLine(out ReadOnlySpan<byte> line))
            check.Line(line, source.LineNumber);
        check.Finish();

        source.Rewind();
        var runner = new Runner(source.Name, output) { ExplainLine = explainLine, AfterEvent = afterEvent, PolicyOverride = policyOverride };
        while (source.TryReadLine(out ReadOnlySpan<byte> line))
            runner.Line(line, source.LineNumber);
        KvmVm vm = runner.Finish();
        if (stats)
            StatsWriter.Write(vm.Stage2, output);
        return vm;
    }

    private enum Section
    {
        Header,
        Host,
        Events,
    }

    /// <summary>Parses and (when it has an output) executes lines in order.</summary>
    private sealed class Runner
    {
        private readonly string _file;
        private readonly TextWriter? _output;
        private readonly List<ulong> _gfns = new();
        private Section _section = Section.Header;
        private Granule _granule = Granule.Size4K;
        private int _ipaBits = 40;
        private bool _fwb;
        private bool _dic = true;
        private string _policy = "v6.18";
        private bool _pkvm;
        private int _pkvmLine;
        private PhysicalMemory? _memory;
        private HostAddressSpace? _host;
        private KvmVm? _vm;
        private ulong _pagesOneByOne;

        public Runner(string file, TextWriter? output)
        {
            _file = file;
            _output = output;
        }

        public Func<int, DecisionRecord?>? ExplainLine { get; init; }

        /// <summary>Runs the script under this policy instead of its header's.</summary>
        public string? PolicyOverride { get; init; }

        public Action<ScriptEvent>? AfterEvent { get; init; }

        public KvmVm Finish()
        {
            if (_vm is null)
            {
                EnsureHost();
                _vm = NewVm();
            }
            return _vm;
        }

        public void Line(ReadOnlySpan<byte> line, int number)
        {
            var tokens = new ScriptTokens(line);
            if (!tokens.Next(out ReadOnlySpan<byte> word))
                return;
            var p = new LineParser(_file, number, tokens);
            string keyword = Encoding.ASCII.GetString(word);
            switch (keyword)
            {
                case "granule": Header(ref p, keyword); _granule = p.Granule(); break;
                case "ipa-bits": Header(ref p, keyword); _ipaBits = p.IpaBits(); break;
                case "fwb": Header(ref p, keyword); _fwb = p.OnOff(keyword); break;
                case "dic": Header(ref p, keyword); _dic = p.OnOff(keyword); break;
                case "pkvm": Header(ref p, keyword); _pkvm = p.OnOff(keyword); _pkvmLine = number; break;
                case "policy":
                    Header(ref p, keyword);
                    _policy = p.Text(p.Word("policy name"));
                    if (PolicyRegistry.Find(_policy) is null)
                        throw p.Error($"unknown policy '{_policy}', expected one of {string.Join(", ", PolicyRegistry.ComparedNames)}");
                    break;
                case "ram": HostLine(ref p, keyword); Ram(ref p); break;
                case "vma": HostLine(ref p, keyword); VmaLine(ref p); break;
                case "remap": HostLine(ref p, keyword); Remap(ref p); break;
                case "slot": Event(); Slot(ref p, number); break;
                case "slot-delete": Event(); SlotDelete(ref p, number); break;
                case "log": Event(); Log(ref p, number); break;
                case "dirty": Event(); Dirty(ref p, number); break;
                case "access": Event(); AccessLine(ref p, number); break;
                case "munmap": Event(); Munmap(ref p, number); break;
                case "dump":
                    Event();
                    p.End();
                    if (_output is not null)
                        DumpWriter.Write(_vm!.Stage2, _output);
                    break;
                default:
                    throw p.Error($"unknown keyword '{keyword}', expected a header (granule, ipa-bits, fwb, dic, policy, pkvm), a host line (ram, vma, remap) or an event (slot, slot-delete, log, dirty, access, munmap, dump)");
            }
            p.End();
        }

        private void Header(ref LineParser p, string keyword)
        {
            if (_section != Section.Header)
                throw p.Error($"header line '{keyword}' after the host description or events; headers (granule, ipa-bits, fwb, dic, policy, pkvm) come first");
        }

        private void HostLine(ref LineParser p, string keyword)
        {
            if (_section == Section.Events)
                throw p.Error($"host line '{keyword}' after the first event; the host (ram, vma, remap) is described before any event");
            EnsureHost();
            _section = Section.Host;
        }

        private void Event()
        {
            EnsureHost();
            _section = Section.Events;
            _vm ??= NewVm();
        }

        private void EnsureHost()
        {
            if (_host is not null)
                return;
            // pkvm on: a non-protected guest under protected KVM, which only some fault paths model.
            string policy = PolicyOverride ?? _policy;
            if (_pkvm && PolicyRegistry.FindTarget(policy) is { } target && !target.Policy.Create().Supports(VmFlavor.Pkvm))
            {
                string supporting = string.Join(", ", PolicyRegistry.All.Where(d => d.Create().Supports(VmFlavor.Pkvm)).Select(d => d.Name));
                throw new ScriptException(_file, _pkvmLine, $"'pkvm on' needs a fault path that models protected KVM ({supporting}); policy {policy} has none: drop 'pkvm on' or choose one of those");
            }
            _memory = new PhysicalMemory();
            _host = new HostAddressSpace(new HostPageTableConfig(_granule), _memory);
        }

        /// <summary>The policy the script runs under (an override may carry a flavor: v7.4+pkvm).</summary>
        private PolicyTarget Target => PolicyRegistry.FindTarget(PolicyOverride ?? _policy)
            ?? throw new ArgumentException($"unknown policy '{PolicyOverride ?? _policy}'");

        private KvmVm NewVm()
        {
            var config = new VmConfig
            {
                Granule = _granule,
                IpaBits = _ipaBits,
                Features = new CpuFeatures(Fwb: _fwb, Dic: _dic, RangeTlbi: false),
                MaxSlots = 512,
                Flavor = Target.Flavor ?? (_pkvm ? VmFlavor.Pkvm : VmFlavor.Kvm),
            };
            return new KvmVm(config, _host!, Target.Policy.Create());
        }

        private void Ram(ref LineParser p)
        {
            ulong basePa = p.Number("BASE");
            ulong size = p.Number("SIZE");
            p.PaRange("RAM BASE", basePa, size);
            HostResult r = _memory!.AddRam(basePa, size);
            if (!r.Succeeded)
                throw p.Error(r.Message!);
        }

        private void VmaLine(ref LineParser p)
        {
            ulong start = p.Number("START");
            ulong size = p.Number("SIZE");
            ReadOnlySpan<byte> kindWord = p.Word("kind (anon, hugetlb or pfnmap)");
            string kind = p.Text(kindWord);
            Vma vma;
            switch (kind)
            {
                case "anon":
                    {
                        ulong pa = p.Number("PA");
                        bool thp = false;
                        while (p.TryWord(out ReadOnlySpan<byte> flag))
                        {
                            if (!flag.SequenceEqual("thp"u8))
                                throw p.Error($"unknown anon VMA flag '{p.Text(flag)}', expected thp");
                            thp = true;
                        }
                        p.PaRange("PA", pa, size);
                        vma = new Vma { Start = start, End = start + size, Kind = VmaKind.Anonymous, BasePa = pa, Thp = thp };
                        break;
                    }
                case "hugetlb":
                    {
                        ulong hsize = p.Number("HSIZE");
                        ulong pa = p.Number("PA");
                        p.PaRange("PA", pa, size);
                        vma = new Vma { Start = start, End = start + size, Kind = VmaKind.Hugetlb, BasePa = pa, HugePageSize = hsize };
                        break;
                    }
                case "pfnmap":
                    {
                        ulong pgoff = p.Number("PGOFF");
                        // vm_pgoff is the PFN the host maps (and v5.9/v5.13 ioremap) from.
                        p.PaRange($"PGOFF 0x{pgoff:x} pages: PA", pgoff <= LineParser.PaLimit >> _granule.PageShift ? pgoff << _granule.PageShift : ulong.MaxValue, size);
                        bool pmd = false, uncached = false, cacheable = false;
                        while (p.TryWord(out ReadOnlySpan<byte> flag))
                        {
                            string f = p.Text(flag);
                            switch (f)
                            {
                                case "pmd": pmd = true; break;
                                case "uncached-ok": uncached = true; break;
                                case "cacheable": cacheable = true; break;
                                default: throw p.Error($"unknown pfnmap VMA flag '{f}', expected pmd, uncached-ok or cacheable");
                            }
                        }
                        vma = new Vma
                        {
                            Start = start,
                            End = start + size,
                            Kind = VmaKind.PfnMap,
                            PgOff = pgoff,
                            HostPmd = pmd,
                            Cacheable = cacheable,
                            Flags = VmFlags.Read | VmFlags.Write | VmFlags.Shared | (uncached ? VmFlags.AllowAnyUncached : VmFlags.None),
                        };
                        break;
                    }
                default:
                    throw p.Error($"unknown VMA kind '{kind}', expected anon, hugetlb or pfnmap");
            }
            if (start + size < start)
                throw p.Error($"VMA 0x{start:x} size 0x{size:x} wraps the address space");
            HostResult r = _host!.AddVma(vma);
            if (!r.Succeeded)
                throw p.Error(r.Message!);
        }

        private void Remap(ref LineParser p)
        {
            ulong hva = p.Number("HVA");
            ulong size = p.Number("SIZE");
            ulong pa = p.Number("PA");
            p.PaRange("PA", pa, size);
            HostResult r = _host!.Remap(hva, size, pa);
            if (!r.Succeeded)
                throw p.Error(r.Message!);
        }

        private void Slot(ref LineParser p, int number)
        {
            ulong id = p.Number("ID");
            ulong ipa = p.Number("IPA");
            ulong size = p.Number("SIZE");
            ulong hva = p.Number("HVA");
            MemslotFlags flags = MemslotFlags.None;
            while (p.TryWord(out ReadOnlySpan<byte> flag))
            {
                if (flag.SequenceEqual("ro"u8))
                    flags |= MemslotFlags.ReadOnly;
                else if (flag.SequenceEqual("log"u8))
                    flags |= MemslotFlags.LogDirtyPages;
                else
                    throw p.Error($"unknown slot flag '{p.Text(flag)}', expected ro or log");
            }
            CountPagesAtCreation(ref p, size, hva);
            if (_output is null)
                return;
            int slotId = id > int.MaxValue ? -1 : (int)id;
            Memslot? old = SlotById(slotId);
            (ulong oldIpa, ulong oldSize) = (old?.Ipa ?? 0, old?.SizeBytes ?? 0);
            KvmResult r = _vm!.SetUserMemoryRegion(slotId, ipa, size, hva, flags);
            Write(r.Succeeded ? $"slot {number} ok\n" : $"slot {number} error {Errno.Name(r.Errno)}\n");
            AfterEvent?.Invoke(new ScriptEvent { Line = number, Kind = ScriptEventKind.Slot, Vm = _vm, SlotId = slotId, OldIpa = oldIpa, OldSizeBytes = oldSize, Errno = r.Errno });
        }

        /// <summary>
        /// Bounds the work of v5.9/v5.13 slot creation (<see cref="ScriptLimits.MaxPagesMappedOneByOne"/>):
        /// kvm_arch_prepare_memory_region maps every page of the slot's VM_PFNMAP VMAs with one
        /// kvm_pgtable_stage2_map call each (kvm_phys_addr_ioremap).
        /// </summary>
        private void CountPagesAtCreation(ref LineParser p, ulong size, ulong hva)
        {
            string policy = PolicyOverride ?? _policy;
            if (policy is not ("v5.9" or "v5.13") || _host is null || hva > ulong.MaxValue - size)
                return;
            ulong bytes = 0;
            foreach (Vma vma in _host.Intersecting(hva, hva + size))
            {
                if (vma.IsPfnMap)
                    bytes += Math.Min(vma.End, hva + size) - Math.Max(vma.Start, hva);
            }
            _pagesOneByOne += bytes >> _granule.PageShift;
            if (_pagesOneByOne > ScriptLimits.MaxPagesMappedOneByOne)
                throw p.Error($"under {policy} the script's slots come to more than {ScriptLimits.MaxPagesMappedOneByOne:N0} VM_PFNMAP pages mapped one by one at creation (kvm_phys_addr_ioremap), the limit of a script (about half a minute and 2 GiB of tables); use smaller slots or another policy");
        }

        private void SlotDelete(ref LineParser p, int number)
        {
            ulong id = p.Number("ID");
            if (_output is null)
                return;
            int slotId = id > int.MaxValue ? -1 : (int)id;
            Memslot? old = SlotById(slotId);
            (ulong oldIpa, ulong oldSize) = (old?.Ipa ?? 0, old?.SizeBytes ?? 0);
            KvmResult r = _vm!.DeleteSlot(slotId);
            if (!r.Succeeded)
                Write($"slot-delete {number} error {Errno.Name(r.Errno)}\n");
            AfterEvent?.Invoke(new ScriptEvent { Line = number, Kind = ScriptEventKind.SlotDelete, Vm = _vm, SlotId = slotId, OldIpa = oldIpa, OldSizeBytes = oldSize, Errno = r.Errno });
        }

        private void Log(ref LineParser p, int number)
        {
            ulong id = p.Number("ID");
            bool on = p.OnOff("log");
            if (_output is null)
                return;
            int slotId = id > int.MaxValue ? -1 : (int)id;
            Memslot? old = SlotById(slotId);
            (ulong oldIpa, ulong oldSize) = (old?.Ipa ?? 0, old?.SizeBytes ?? 0);
            KvmResult r = _vm!.SetDirtyLogging(slotId, on);
            if (!r.Succeeded)
                Write($"log {number} error {Errno.Name(r.Errno)}\n");
            AfterEvent?.Invoke(new ScriptEvent { Line = number, Kind = ScriptEventKind.Log, Vm = _vm, SlotId = slotId, OldIpa = oldIpa, OldSizeBytes = oldSize, Errno = r.Errno });
        }

        private void Dirty(ref LineParser p, int number)
        {
            ulong id = p.Number("ID");
            if (_output is null)
                return;
            _gfns.Clear();
            int slotId = id > int.MaxValue ? -1 : (int)id;
            KvmResult r = _vm!.GetDirtyLog(slotId, _gfns);
            AfterEvent?.Invoke(new ScriptEvent { Line = number, Kind = ScriptEventKind.Dirty, Vm = _vm, SlotId = slotId, Errno = r.Errno });
            if (!r.Succeeded)
            {
                Write($"dirty {number} error {Errno.Name(r.Errno)}\n");
                return;
            }
            var text = new StringBuilder();
            text.Append("dirty ").Append(number).Append(' ').Append(id).Append(' ').Append(_gfns.Count);
            foreach (ulong gfn in _gfns)
                text.Append(" 0x").Append(gfn.ToString("x", System.Globalization.CultureInfo.InvariantCulture));
            text.Append('\n');
            Write(text.ToString());
        }

        private void AccessLine(ref LineParser p, int number)
        {
            ulong ipa = p.Number("IPA");
            ReadOnlySpan<byte> kindWord = p.Word("access kind (r, w or x)");
            // The longest kind word is "write"/"exec"-sized; a longer token is refused before it is copied.
            const int maxKindLetters = 8;
            Span<char> kindChars = stackalloc char[maxKindLetters];
            kindChars = kindChars[..Math.Min(kindWord.Length, maxKindLetters)];
            for (int i = 0; i < kindChars.Length; i++)
                kindChars[i] = (char)kindWord[i];
            if (kindWord.Length > maxKindLetters || !AccessKindExtensions.TryParse(kindChars, out AccessKind kind))
                throw p.Error($"bad access kind '{LineParser.Shorten(kindWord)}', expected r, w or x");
            if (_output is null)
                return;
            DecisionRecord? explain = ExplainLine?.Invoke(number);
            if (explain is not null)
            {
                explain.Policy = PolicyOverride ?? _policy;
                explain.Ipa = ipa;
                explain.Access = kind;
            }
            FaultResult result = _vm!.Access(ipa, kind, explain);
            FaultLineWriter.Write(_output, number, result);
            AfterEvent?.Invoke(new ScriptEvent { Line = number, Kind = ScriptEventKind.Access, Vm = _vm, SlotId = -1, Ipa = ipa, Access = kind, Result = result, Decision = explain });
        }

        private void Munmap(ref LineParser p, int number)
        {
            ulong hva = p.Number("HVA");
            ulong size = p.Number("SIZE");
            if (_output is null)
                return;
            HostResult r = _vm!.Munmap(hva, size);
            if (!r.Succeeded)
                Write($"munmap {number} error {Errno.Name(r.Errno)}\n");
            AfterEvent?.Invoke(new ScriptEvent { Line = number, Kind = ScriptEventKind.Munmap, Vm = _vm, SlotId = -1, Hva = hva, SizeBytes = size, Errno = r.Errno });
        }

        private Memslot? SlotById(int id) => id >= 0 && id < _vm!.Memslots.MaxSlots ? _vm.Memslots.ById(id) : null;

        private void Write(string text) => _output!.Write(text);
    }
}
