using System.Text;
using Stage2Lab.Arch;
using Stage2Lab.PageTables;

namespace Stage2Lab.Simulation.Scripts;

/// <summary>
/// s2ops v1 (shared/spec/s2ops.md): a stage-2 op script. The whole script is checked before any output is
/// written, so a malformed line produces its error and no partial output.
/// </summary>
public static class S2OpsScript
{
    public enum OpKind : byte
    {
        Map,
        Unmap,
        WrProtect,
        Relax,
        MkOld,
        MkYoung,
        Split,
        Dump,
    }

    public struct Op
    {
        public OpKind Kind;
        public ulong Ipa;
        public ulong Size;
        public ulong Pa;
        public Prot Prot;
    }

    /// <summary>The header lines: granule, ipa-bits, fwb.</summary>
    public sealed class Header
    {
        public Granule Granule { get; set; } = Granule.Size4K;

        public int IpaBits { get; set; } = 40;

        public bool Fwb { get; set; }
    }

    /// <summary>
    /// Runs a script; returns the page table it built. Throws <see cref="ScriptException"/> for a malformed line,
    /// having written nothing: the script is parsed and run in one pass, with its output held back
    /// (<see cref="HeldOutput"/>) until the whole script is known to be well formed.
    /// </summary>
    public static Stage2PageTable Run(ScriptSource source, TextWriter output, bool stats = false) =>
        Run(source, output, stats, HeldOutput.DefaultLimit);

    internal static Stage2PageTable Run(ScriptSource source, TextWriter output, bool stats, int holdLimit)
    {
        var parser = new Parser(source.Name);
        var held = new HeldOutput(output, holdLimit);
        MemoryCache cache = MemoryCache.Unbounded();
        Stage2PageTable? pgt = null;
        while (source.TryReadLine(out ReadOnlySpan<byte> line))
        {
            if (!parser.ParseLine(line, source.LineNumber, out Op op))
                continue;
            // Header lines may only come before the first operation: the header is complete here.
            pgt ??= NewTable(parser.Header);
            int ret = Execute(pgt, cache, op);
            if (ret != 0)
                WriteError(held.Writer, source.LineNumber, ret);
            else if (op.Kind == OpKind.Dump)
                DumpWriter.Write(pgt, held.Writer);
            else
                continue; // nothing written, nothing more held
            if (held.IsOverLimit)
            {
                CheckRest(source, parser);
                held.Release();
            }
        }
        pgt ??= NewTable(parser.Header);
        held.Release();
        if (stats)
            StatsWriter.Write(pgt, output);
        return pgt;
    }

    private static Stage2PageTable NewTable(Header header)
    {
        var features = new CpuFeatures(Fwb: header.Fwb, Dic: true, RangeTlbi: false);
        return new Stage2PageTable(header.Granule, header.IpaBits, features);
    }

    /// <summary>Checks every line after the current one, then comes back to where it was.</summary>
    private static void CheckRest(ScriptSource source, Parser parser)
    {
        ScriptPosition here = source.Position;
        while (source.TryReadLine(out ReadOnlySpan<byte> line))
            parser.ParseLine(line, source.LineNumber, out _);
        source.Seek(here);
    }

    /// <summary>Reads the whole script once, checking every line; returns its header.</summary>
    public static Header Check(ScriptSource source)
    {
        var parser = new Parser(source.Name);
        while (source.TryReadLine(out ReadOnlySpan<byte> line))
            parser.ParseLine(line, source.LineNumber, out _);
        return parser.Header;
    }

    /// <summary>Calls the page-table operation an op names; returns its result (0 or -errno).</summary>
    public static int Execute(Stage2PageTable pgt, MemoryCache cache, in Op op)
    {
        switch (op.Kind)
        {
            case OpKind.Map: return pgt.Map(op.Ipa, op.Size, op.Pa, op.Prot, cache);
            case OpKind.Unmap: return pgt.Unmap(op.Ipa, op.Size);
            case OpKind.WrProtect: return pgt.WrProtect(op.Ipa, op.Size);
            case OpKind.Relax: return pgt.RelaxPerms(op.Ipa, op.Prot);
            case OpKind.MkOld: pgt.TestClearYoung(op.Ipa, op.Size, mkold: true); return 0;
            case OpKind.MkYoung: pgt.MkYoung(op.Ipa); return 0;
            case OpKind.Split: return pgt.Split(op.Ipa, op.Size, cache);
            default: return 0;
        }
    }

    private static void WriteError(TextWriter output, int line, int ret)
    {
        output.Write("error ");
        output.Write(line);
        output.Write(' ');
        output.Write(Errno.Name(ret));
        output.Write('\n');
    }

    private sealed class Parser
    {
        private readonly string _file;
        private bool _sawOperation;
        private ulong _pagesOneByOne;

        public Parser(string file) => _file = file;

        public Header Header { get; } = new();

        /// <summary>Parses one line; true when it is an operation.</summary>
        public bool ParseLine(ReadOnlySpan<byte> line, int lineNumber, out Op op)
        {
            op = default;
            var tokens = new ScriptTokens(line);
            if (!tokens.Next(out ReadOnlySpan<byte> word))
                return false;
            var p = new LineParser(_file, lineNumber, tokens);
            switch (KeywordOf(word))
            {
                case Keyword.Granule:
                    RequireHeaderPosition(p, "granule");
                    Header.Granule = p.Granule();
                    p.End();
                    return false;
                case Keyword.IpaBits:
                    RequireHeaderPosition(p, "ipa-bits");
                    Header.IpaBits = p.IpaBits();
                    p.End();
                    return false;
                case Keyword.Fwb:
                    RequireHeaderPosition(p, "fwb");
                    Header.Fwb = p.OnOff("fwb");
                    p.End();
                    return false;
                case Keyword.Map:
                    op.Kind = OpKind.Map;
                    op.Ipa = p.Aligned("IPA", Header.Granule);
                    op.Size = p.Aligned("SIZE", Header.Granule);
                    op.Pa = p.Aligned("PA", Header.Granule);
                    op.Prot = p.Prot();
                    CountPages(ref p, op);
                    break;
                case Keyword.Unmap: op.Kind = OpKind.Unmap; ParseRange(ref p, ref op, checkLimit: false); break;
                case Keyword.WrProtect: op.Kind = OpKind.WrProtect; ParseRange(ref p, ref op, checkLimit: false); break;
                case Keyword.Split: op.Kind = OpKind.Split; ParseRange(ref p, ref op, checkLimit: false); break;
                case Keyword.MkOld: op.Kind = OpKind.MkOld; ParseRange(ref p, ref op, checkLimit: true); break;
                case Keyword.Relax:
                    op.Kind = OpKind.Relax;
                    op.Ipa = p.Aligned("IPA", Header.Granule);
                    op.Prot = p.Prot();
                    break;
                case Keyword.MkYoung:
                    op.Kind = OpKind.MkYoung;
                    op.Ipa = p.Aligned("IPA", Header.Granule);
                    if (op.Ipa >= 1UL << Header.IpaBits)
                        throw p.Error($"mkyoung IPA 0x{op.Ipa:x} is not below 1 << ipa-bits ({Header.IpaBits}); mkyoung cannot report an error");
                    break;
                case Keyword.Dump:
                    op.Kind = OpKind.Dump;
                    break;
                default:
                    throw p.Error($"unknown operation '{Encoding.ASCII.GetString(word)}', expected one of granule, ipa-bits, fwb, map, unmap, wrprotect, relax, mkold, mkyoung, split, dump");
            }
            p.End();
            _sawOperation = true;
            return true;
        }

        /// <summary>
        /// Bounds the work of the script (<see cref="ScriptLimits.MaxPagesMappedOneByOne"/>): a map whose PA is not
        /// congruent with its IPA modulo the smallest block size can only be built from pages (kvm_block_mapping_supported
        /// fails at every level), so it creates size / PAGE_SIZE leaves. Ranges beyond ipa-bits map nothing (-ERANGE).
        /// </summary>
        private void CountPages(ref LineParser p, in Op op)
        {
            Granule granule = Header.Granule;
            ulong smallestBlock = granule.LevelSize(Granule.LastLevel - 1);
            if (op.Size > (1UL << Header.IpaBits) || op.Ipa > (1UL << Header.IpaBits) - op.Size)
                return;
            ulong pages = ((op.Ipa ^ op.Pa) & (smallestBlock - 1)) != 0 ? op.Size >> granule.PageShift : 2 * (smallestBlock >> granule.PageShift);
            _pagesOneByOne += pages;
            if (_pagesOneByOne > ScriptLimits.MaxPagesMappedOneByOne)
                throw p.Error($"the script's maps come to more than {ScriptLimits.MaxPagesMappedOneByOne:N0} pages mapped one by one (PA not congruent with IPA modulo {SizeText.Format(smallestBlock)}), the limit of a script (about half a minute and 2 GiB of tables); map less, or align the PA");
        }

        private enum Keyword : byte
        {
            Unknown,
            Granule,
            IpaBits,
            Fwb,
            Map,
            Unmap,
            WrProtect,
            Relax,
            MkOld,
            MkYoung,
            Split,
            Dump,
        }

        /// <summary>The line's first word, compared as bytes (no string per line; map, the common case, first).</summary>
        private static Keyword KeywordOf(ReadOnlySpan<byte> word)
        {
            if (word.SequenceEqual("map"u8)) return Keyword.Map;
            if (word.SequenceEqual("unmap"u8)) return Keyword.Unmap;
            if (word.SequenceEqual("wrprotect"u8)) return Keyword.WrProtect;
            if (word.SequenceEqual("relax"u8)) return Keyword.Relax;
            if (word.SequenceEqual("mkold"u8)) return Keyword.MkOld;
            if (word.SequenceEqual("mkyoung"u8)) return Keyword.MkYoung;
            if (word.SequenceEqual("split"u8)) return Keyword.Split;
            if (word.SequenceEqual("dump"u8)) return Keyword.Dump;
            if (word.SequenceEqual("granule"u8)) return Keyword.Granule;
            if (word.SequenceEqual("ipa-bits"u8)) return Keyword.IpaBits;
            if (word.SequenceEqual("fwb"u8)) return Keyword.Fwb;
            return Keyword.Unknown;
        }

        private void ParseRange(ref LineParser p, ref Op op, bool checkLimit)
        {
            op.Ipa = p.Aligned("IPA", Header.Granule);
            op.Size = p.Aligned("SIZE", Header.Granule);
            if (checkLimit && (op.Ipa + op.Size > 1UL << Header.IpaBits || op.Ipa + op.Size < op.Ipa))
                throw p.Error($"mkold range 0x{op.Ipa:x}+0x{op.Size:x} is not below 1 << ipa-bits ({Header.IpaBits}); mkold cannot report an error");
        }

        private void RequireHeaderPosition(LineParser p, string name)
        {
            if (_sawOperation)
                throw p.Error($"header line '{name}' after an operation; header lines (granule, ipa-bits, fwb) must come first");
        }
    }
}
