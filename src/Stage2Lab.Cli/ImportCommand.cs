using System.CommandLine;
using Stage2Lab.Arch;
using Stage2Lab.Simulation.Import;

namespace Stage2Lab.Cli;

/// <summary>`s2lab import`: a scenario from a VM's own records (docs/import.md).</summary>
internal static class ImportCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var inputs = new (RecordFormat Format, Option<string?> Option)[]
        {
            (RecordFormat.Smaps, new Option<string?>("--smaps") { Description = "/proc/PID/smaps of the VMM (cat /proc/PID/smaps)." }),
            (RecordFormat.Maps, new Option<string?>("--maps") { Description = "/proc/PID/maps of the VMM." }),
            (RecordFormat.Pmap, new Option<string?>("--pmap") { Description = "pmap -X PID (or -XX) of the VMM." }),
            (RecordFormat.QemuTrace, new Option<string?>("--qemu-trace") { Description = "QEMU trace output: -trace kvm_set_user_memory -trace 'vfio_*'." }),
            (RecordFormat.Mtree, new Option<string?>("--mtree") { Description = "QEMU HMP 'info mtree -f'." }),
            (RecordFormat.Iomem, new Option<string?>("--iomem") { Description = "/proc/iomem of the host, read as root (sudo cat /proc/iomem)." }),
            (RecordFormat.Lspci, new Option<string?>("--lspci") { Description = "lspci -v or -vv of the host (sudo lspci -vv)." }),
        };
        var pageSize = new Option<string?>("--host-page-size") { Description = "The host's page size (4K, 16K or 64K) when the records do not show it." };
        pageSize.AcceptOnlyFromAmong("4K", "16K", "64K");
        var output = new Option<string?>("--out") { Description = "Write the scenario here (atomically) instead of stdout." };
        var command = new Command("import", "Build a scenario from a VM's own records (any subset): the VMM's smaps/maps/pmap, QEMU's trace and 'info mtree -f', the host's /proc/iomem and lspci. " +
            "Every item names its source line; what no record gives is assumed and listed; unusable lines are reported on stderr as FILE:LINE: reason.");
        foreach (var (_, option) in inputs)
            command.Options.Add(option);
        command.Options.Add(pageSize);
        command.Options.Add(output);
        command.SetAction(parse => CommandGuard.Run(stderr, () =>
        {
            if (parse.GetValue(output) is { } target)
                AtomicFile.EnsureWritable(target, "--out");
            try
            {
                var records = new List<RecordInput>();
                foreach (var (format, option) in inputs)
                {
                    if (parse.GetValue(option) is { } path)
                        records.Add(RecordInput.Load(format, path));
                }
                if (records.Count == 0)
                    throw new UsageException("import needs at least one record: --smaps, --maps, --pmap, --qemu-trace, --mtree, --iomem or --lspci");
                Granule? granule = parse.GetValue(pageSize) is { } text && Granule.TryParse(text, out Granule g) ? g : null;
                string? outPath = parse.GetValue(output);
                string name = outPath is null ? "imported" : Path.GetFileNameWithoutExtension(outPath);
                ImportResult result = Importer.Import(records, new ImportOptions { HostPageSize = granule, Name = name });
                foreach (SkippedLine skipped in result.Skipped)
                    stderr.WriteLine(skipped.ToString());
                string yaml = result.ToYaml();
                if (outPath is null)
                    stdout.Write(yaml);
                else
                    AtomicFile.Write(outPath, yaml);
                stderr.WriteLine($"s2lab import: {result.Scenario.Memslots.Count} memslot(s), {result.Scenario.Mappings.Count} mapping(s), {result.Assumptions.Count} assumption(s) (listed at the top of the scenario), {result.Skipped.Count} skipped line(s)" +
                    (outPath is null ? "" : $"; written to {outPath}"));
                return ExitCodes.Ok;
            }
            catch (ImportException ex)
            {
                foreach (SkippedLine skipped in ex.Skipped)
                    stderr.WriteLine(skipped.ToString());
                foreach (string message in ex.Messages)
                    stderr.WriteLine(message);
                stderr.WriteLine("s2lab import: nothing was written.");
                return ExitCodes.BadInput;
            }
        }));
        return command;
    }
}
