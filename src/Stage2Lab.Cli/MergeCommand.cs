using System.CommandLine;
using Stage2Lab.Reports;
using Stage2Lab.Simulation.Campaigns;
using Stage2Lab.Simulation.Fuzzing;
using Stage2Lab.Simulation.Sweeps;

namespace Stage2Lab.Cli;

/// <summary>`s2lab merge`: the shards of a sweep or fuzz campaign, combined into what one run writes.</summary>
internal static class MergeCommand
{
    /// <summary>A shard document is a few MiB at most (a million sweep rows is about 300 MiB: the bound).</summary>
    private const long MaxShardBytes = 512L << 20;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var files = new Argument<string[]>("files") { Description = "The JSON documents the shards wrote (sweep --shard I/N, or fuzz --cases N --shard I/N --format json), every shard once, in any order.", Arity = ArgumentArity.OneOrMore };
        var format = new Option<string?>("--format") { Description = "The format of the merged output, as the single run would write it: for a sweep table (default), csv or json; for fuzz json (default) or table (its summary, without timings)." };
        format.AcceptOnlyFromAmong("table", "csv", "json");
        var output = new Option<string?>("--out") { Description = "Write the merged output to this file (atomically) instead of standard output." };
        OutputOptions.NotEmpty(output);
        var plot = new Option<string?>("--plot") { Description = "A sweep: also write its chart (FILE.svg or FILE.html), as sweep --plot does.", HelpName = "FILE" };
        OutputOptions.NotEmpty(plot);
        var metric = new Option<string>("--metric") { Description = "The metric --plot draws. Default: faults.", DefaultValueFactory = _ => "faults", HelpName = "METRIC" };
        metric.AcceptOnlyFromAmong([.. SweepMetrics.All.Select(m => m.Name)]);
        var x = new Option<string?>("--x") { Description = "The varied key on the chart's x axis. Default: the first.", HelpName = "KEY" };
        var reproducer = new Option<string?>("--reproducer") { Description = "A fuzz campaign that found a violation: also write the shrunk reproducer (a scenario for `s2lab check`) to this file.", HelpName = "FILE" };
        OutputOptions.NotEmpty(reproducer);
        var command = new Command("merge", "Combine the outputs of the shards of a sweep or fuzz campaign (--shard I/N) into exactly what one run would have written; refuses shards of different campaigns, and missing or repeated shards. Exit 1 when the merged fuzz campaign found a violation.")
        {
            files,
            format,
            output,
            plot,
            metric,
            x,
            reproducer,
        };
        command.SetAction(parse => CommandGuard.Run(stderr, () =>
        {
            string? outFile = parse.GetValue(output);
            if (outFile is not null)
                AtomicFile.EnsureWritable(outFile, "--out");
            var texts = parse.GetValue(files)!.Select(f => (Name: f, Text: Read(f))).ToList();
            string? schema = FuzzJson.SchemaOf(texts[0].Text);
            foreach (var (name, text) in texts.Skip(1))
            {
                if (FuzzJson.SchemaOf(text) != schema)
                    throw new CampaignException($"{name} is not the same kind of document as {texts[0].Name}; merge the shards of one campaign");
            }
            if (schema == SweepReport.Schema)
            {
                if (parse.GetValue(reproducer) is not null)
                    throw new UsageException("--reproducer is for fuzz campaigns; these are sweep shards");
                SweepResult merged = SweepMerge.Merge([.. texts.Select(t => (t.Name, SweepReport.Read(t.Text, t.Name)))]);
                int code = SweepCommand.Write(parse.GetValue(format) ?? "table", merged, outFile, stdout, stderr);
                if (parse.GetValue(plot) is { } plotFile)
                {
                    string xKey = parse.GetValue(x) ?? merged.Axes[0].Key;
                    code = ExitCodes.Worse(code, SweepCommand.WritePlot(plotFile, merged, parse.GetValue(metric)!, xKey, stderr));
                }
                return code;
            }
            if (schema == FuzzJson.Schema)
            {
                if (parse.GetValue(plot) is not null)
                    throw new UsageException("--plot is for sweeps; these are fuzz shards");
                string shown = parse.GetValue(format) ?? "json";
                if (shown == "csv")
                    throw new UsageException("a fuzz campaign is merged as json or table, not csv");
                FuzzPart merged = FuzzPart.Merge([.. texts.Select(t => (t.Name, FuzzJson.Read(t.Text, t.Name)))]);
                string text = shown == "json" ? FuzzJson.Render(merged) : FuzzCommand.Summary(merged);
                int code = ExitCodes.Ok;
                if (outFile is null)
                {
                    stdout.Write(text);
                }
                else if (!OutputOptions.TryWrite(outFile, text, stderr, "the result is on standard output instead"))
                {
                    stdout.Write(text);
                    code = ExitCodes.BadInput;
                }
                if (merged.Finding is { } f && parse.GetValue(reproducer) is { } path && !OutputOptions.TryWrite(path, f.Reproducer, stderr, "no reproducer was written"))
                    code = ExitCodes.BadInput;
                return ExitCodes.Worse(merged.Finding is null ? ExitCodes.Ok : ExitCodes.Failed, code);
            }
            throw new CampaignException($"{texts[0].Name}: not a shard document (schema {schema ?? "missing: not JSON"}); merge reads what sweep --shard or fuzz --shard --format json wrote");
        }));
        return command;
    }

    private static string Read(string path)
    {
        if (Directory.Exists(path))
            throw new UsageException($"{path} is a folder; give the shard files (e.g. shards/*.json)");
        if (!File.Exists(path))
            throw new UsageException($"{path}: no such file");
        if (new FileInfo(path).Length > MaxShardBytes)
            throw new UsageException($"{path}: larger than {MaxShardBytes >> 20} MiB; not a shard document");
        return File.ReadAllText(path);
    }
}
