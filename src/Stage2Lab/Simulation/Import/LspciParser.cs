using System.Globalization;
using System.Text.RegularExpressions;

namespace Stage2Lab.Simulation.Import;

/// <summary>
/// `lspci -v` / `lspci -vv` (pciutils lspci.c show_bases): a header `[DOMAIN:]BUS:DEV.FN description` per device, then
/// one line per BAR: `Region N: Memory at ADDR (64-bit, prefetchable) [size=256G]` with -vv; with -v the same
/// without `Region N:`, so the index is counted as show_bases walks them (a 64-bit BAR takes two slots; a BAR
/// slot that is all zero prints nothing, which makes the count an assumption). `[virtual]`, `[disabled]`,
/// `&lt;unassigned&gt;` and `&lt;ignored&gt;` are understood; I/O BARs only count. `Kernel driver in use:` names the driver.
/// </summary>
public static partial class LspciParser
{
    private const int BarSlots = 6;

    /// <summary>The device of BAR lines that came without their header line.</summary>
    public const string UnnamedDevice = "pci-device";

    public static void Parse(IReadOnlyList<CleanLine> lines, string file, ParsedRecords into)
    {
        PciDeviceRecord? device = null;
        int nextSlot = 0;
        foreach (CleanLine line in lines)
        {
            var where = new SourceRef(file, line.Number);
            string text = line.Text;
            if (Header().Match(text) is { Success: true } h)
            {
                device = new PciDeviceRecord
                {
                    Device = Bdf.Normalize(h.Groups["bdf"].Value),
                    Description = h.Groups["desc"].Value,
                    Where = where,
                    DomainGiven = h.Groups["bdf"].Value.Count(c => c == ':') == 2,
                };
                into.PciDevices.Add(device);
                nextSlot = 0;
                continue;
            }
            Match mem = Memory().Match(text);
            Match io = mem.Success ? Match.Empty : IoPorts().Match(text);
            if (mem.Success || io.Success)
            {
                if (device is null)
                {
                    // `lspci -vv -s BDF | grep Region`: the header was filtered out; the BARs are one device's.
                    device = new PciDeviceRecord { Device = UnnamedDevice, Description = "(no header line)", Where = where, DomainGiven = true };
                    into.PciDevices.Add(device);
                    nextSlot = 0;
                }
                Match bar = mem.Success ? mem : io;
                bool inferred = !bar.Groups["idx"].Success;
                int index = inferred ? nextSlot : int.Parse(bar.Groups["idx"].ValueSpan, CultureInfo.InvariantCulture);
                bool wide = mem.Success && mem.Groups["bits"].Value == "64-bit";
                nextSlot = index + (wide ? 2 : 1);
                if (io.Success)
                    continue;
                Take(mem, device, index, inferred, where, into);
                continue;
            }
            if (text.StartsWith("Kernel driver in use:", StringComparison.Ordinal) && device is not null)
            {
                device.Driver = text["Kernel driver in use:".Length..].Trim();
                continue;
            }
            if (device is null)
                into.Skipped.Add(new(where, "not lspci output (expected a `BB:DD.F description` header first)"));
            // Every other line of a device block (Subsystem, Control, Capabilities, ...) says nothing import needs.
        }
        if (into.PciDevices.Count > 0 && into.PciDevices.TrueForAll(d => !d.DomainGiven))
            into.PciDevicesWithoutDomain = true;
    }

    private static void Take(Match m, PciDeviceRecord device, int index, bool inferred, SourceRef where, ParsedRecords into)
    {
        if (index >= BarSlots)
        {
            into.Skipped.Add(new(where, $"BAR index {index} beyond the six BARs of a header-type-0 device"));
            return;
        }
        string addr = m.Groups["addr"].Value;
        if (addr.StartsWith('<'))
        {
            into.Skipped.Add(new(where, $"BAR {index} of {device.Device} is {addr}: no address assigned"));
            return;
        }
        if (!m.Groups["size"].Success || !HexText.TrySize(m.Groups["size"].ValueSpan, out ulong size) || size == 0)
        {
            into.Skipped.Add(new(where, $"BAR {index} of {device.Device} has no [size=...] (lspci could not read the size: run it as root)"));
            return;
        }
        if (!HexText.TryHex(addr, out ulong pa))
        {
            into.Skipped.Add(new(where, $"BAR {index} of {device.Device}: address '{addr}' does not fit 64 bits"));
            return;
        }
        if (pa == 0)
        {
            into.Skipped.Add(new(where, $"BAR {index} of {device.Device} at address 0: read without root, or not assigned"));
            return;
        }
        into.PciBars.Add(new PciBarRecord(device.Device, index, inferred, pa, size, m.Groups["np"].Length == 0, where));
    }

    [GeneratedRegex(@"^(?<bdf>(?:[0-9a-fA-F]{4,8}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])\s+(?<desc>\S.*)$")]
    private static partial Regex Header();

    [GeneratedRegex(@"^(?:Region\s+(?<idx>\d+):\s+)?(?:\[virtual\]\s+)?Memory at (?<addr>[0-9a-fA-F]+|<unassigned>|<ignored>|<invalid-64bit-slot>)\s+\((?<bits>32-bit|64-bit|low-1M|type 3),\s+(?<np>non-)?prefetchable\)(?:\s+\[(?:disabled|virtual)\])*(?:\s+\[size=(?<size>\d+[KMGT]?)\])?")]
    private static partial Regex Memory();

    [GeneratedRegex(@"^(?:Region\s+(?<idx>\d+):\s+)?(?:\[virtual\]\s+)?I/O ports at ")]
    private static partial Regex IoPorts();
}
