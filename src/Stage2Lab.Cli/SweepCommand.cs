using System.CommandLine;
using Stage2Lab.Reports;
using Stage2Lab.Simulation.Campaigns;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Sweeps;

namespace Stage2Lab.Cli;

/// <summary>`s2lab sweep`: a scenario over the cross product of values of its keys, under each policy.</summary>
internal static class SweepCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var scenario = ScenarioCommands.ScenarioArgument("A scenario file (YAML or JSON), or - for standard input. It may also come right after the --policies names.");
        var vary = new Option<string[]>("--vary")
        {
            Description = "KEY=VALUES, once per key: KEY a key path as scenario errors name it (host.page-size, mappings[1].start, or by name: mappings.gpu-bar1.start); VALUES a comma list (4K,16K,64K) or an inclusive range START..END/STEP (0x7f10_0000_0000..0x7f10_4000_0000/64M). The sweep runs every combination, the first key varying slowest.",
            HelpName = "KEY=VALUES",
            Required = true,
        };
        var policies = PolicyOptions.Many("Policies to run each point under, in order. Default: the scenario's list.");
        var format = new Option<string?>("--format") { Description = "table (the default), csv (every metric), or json (schema " + SweepReport.Schema + "; what a --shard writes and `s2lab merge` reads). With --shard: json." };
        format.AcceptOnlyFromAmong("table", "csv", "json");
        var output = new Option<string?>("--out") { Description = "Write the output to this file (atomically) instead of standard output." };
        OutputOptions.NotEmpty(output);
        var plot = new Option<string?>("--plot") { Description = "Also write a chart of --metric against --x, one line per policy: FILE.svg, or FILE.html (a self-contained page).", HelpName = "FILE" };
        OutputOptions.NotEmpty(plot);
        var metric = new Option<string>("--metric") { Description = "The metric --plot draws. Default: faults.", DefaultValueFactory = _ => "faults", HelpName = "METRIC" };
        metric.AcceptOnlyFromAmong([.. SweepMetrics.All.Select(m => m.Name)]);
        var x = new Option<string?>("--x") { Description = "The varied key --plot puts on the x axis. Default: the first --vary.", HelpName = "KEY" };
        var jobs = CampaignOptions.Jobs();
        var shard = CampaignOptions.ShardOption("sweep's points");
        var maxMemory = ScenarioCommands.MaxMemoryOption();
        var command = new Command("sweep", "Run a scenario over every combination of values of some of its keys, under each policy: one row per point and policy with run's metrics (faults, leaves by size, page-table memory, TLBIs, estimated time), and a chart of one of them.")
        {
            scenario,
            vary,
            policies,
            format,
            output,
            plot,
            metric,
            x,
            jobs,
            shard,
            maxMemory,
        };
        PolicyOptions.ResolveScenario(command, scenario, policies);
        command.SetAction(parse => CommandGuard.Run(stderr, () =>
        {
            Shard part = CampaignOptions.ShardOf(parse, shard);
            string shown = parse.GetValue(format) ?? (part.IsWhole ? "table" : "json");
            if (!part.IsWhole && shown != "json")
                throw new UsageException($"--shard writes JSON (what `s2lab merge` reads); drop --format {shown}, and give it to merge instead");
            string? plotFile = parse.GetValue(plot);
            if (plotFile is not null && !plotFile.EndsWith(".svg", StringComparison.OrdinalIgnoreCase) && !plotFile.EndsWith(".html", StringComparison.OrdinalIgnoreCase))
                throw new UsageException($"--plot {plotFile}: the chart is written as .svg or .html; name the file so");
            if (parse.GetValue(output) is { } outFile)
                AtomicFile.EnsureWritable(outFile, "--out");
            if (plotFile is not null)
                AtomicFile.EnsureWritable(plotFile, "--plot");

            var (file, given) = PolicyOptions.Get(parse, scenario, policies);
            if (file is null)
                throw new UsageException("give a scenario file (YAML or JSON), or - for standard input");
            var (text, name, baseDirectory) = InputFile.Open(file).ScenarioText();
            Scenario original = ScenarioReader.Parse(text, name, baseDirectory);
            string[] names = given.Length > 0 ? given : [.. original.Vm.Policies];
            if (names.Length == 0)
                throw new UsageException($"{name} lists no policies (vm.policies); give --policies");
            var axes = parse.GetValue(vary)!.Select(SweepAxis.Parse).ToList();
            var plan = new SweepPlan(text, name, baseDirectory, axes, names);
            string xKey = parse.GetValue(x) ?? axes[0].Key;
            if (!axes.Any(a => a.Key == xKey))
                throw new UsageException($"--x {xKey} is not a varied key; expected one of {string.Join(", ", axes.Select(a => a.Key))}");
            long lines = SweepChart.SeriesCount(axes, names.Length, xKey);
            if (plotFile is not null && lines > SweepChart.MaxSeries)
                throw new UsageException($"--plot would draw {lines} lines (policies × the values of the keys not on the x axis); at most {SweepChart.MaxSeries}: vary fewer values or give fewer policies");
            int threads = parse.GetValue(jobs);

            // Every point is read before any runs (a refused value stops the sweep at once), and each is checked
            // against the memory limit shared by the runs going on at once.
            ulong limit = MemoryLimit(parse.GetValue(maxMemory));
            ulong perRun = limit / (ulong)Math.Min(threads, Math.Max(1, plan.Points * names.Length));
            InternalError.Activity = $"reading the {plan.Points:N0} points of {name}";
            SweepRunner.Validate(plan, part, s => MemoryEstimator.EnsureFits(s, names, false, perRun,
                $"raise --max-memory (shared by the {threads} runs --jobs allows at once), or give fewer --jobs"));

            InternalError.Activity = $"sweeping {name}";
            SweepResult result = ProgressDisplay.Run(stderr, progress =>
            {
                ProgressDisplay.Line line = progress.Add($"sweep {Path.GetFileName(name)}");
                line.Start();
                var gate = new object();
                SweepResult r = SweepRunner.Run(plan, part, threads, (done, total) =>
                {
                    lock (gate)
                        line.Report(done, total);
                });
                line.Done();
                return r;
            });

            int code = Write(shown, result, parse.GetValue(output), stdout, stderr);
            if (plotFile is not null)
                code = ExitCodes.Worse(code, WritePlot(plotFile, result, parse.GetValue(metric)!, xKey, stderr));
            return code;
        }));
        return command;
    }

    /// <summary>The output in its format, to --out (atomically) or standard output; 2 when --out could not be written.</summary>
    internal static int Write(string format, SweepResult result, string? outFile, TextWriter stdout, TextWriter stderr)
    {
        if (format == "table" && outFile is null)
        {
            TableRenderer.Write([SweepReport.Table(result)], stdout);
            return ExitCodes.Ok;
        }
        string text = format switch
        {
            "json" => SweepReport.Json(result),
            "csv" => SweepReport.Csv(result),
            _ => TableRenderer.Render([SweepReport.Table(result)]),
        };
        if (outFile is null)
        {
            stdout.Write(text);
            return ExitCodes.Ok;
        }
        if (OutputOptions.TryWrite(outFile, text, stderr, "the result is on standard output instead"))
            return ExitCodes.Ok;
        stdout.Write(text);
        return ExitCodes.BadInput;
    }

    internal static int WritePlot(string plotFile, SweepResult result, string metric, string xKey, TextWriter stderr)
    {
        string chart = plotFile.EndsWith(".html", StringComparison.OrdinalIgnoreCase) ? SweepChart.Html(result, metric, xKey) : SweepChart.Svg(result, metric, xKey);
        return OutputOptions.TryWrite(plotFile, chart, stderr, "no chart was written") ? ExitCodes.Ok : ExitCodes.BadInput;
    }

    private static ulong MemoryLimit(string? maxMemory)
    {
        if (maxMemory is null)
            return MemoryEstimator.DefaultLimitBytes;
        if (!Stage2Lab.Arch.NumberText.TryParse(maxMemory.Replace("_", "", StringComparison.Ordinal), out ulong limit) || limit == 0)
            throw new UsageException($"--max-memory '{maxMemory}' is not a size; expected e.g. 8G or 512M");
        return limit;
    }
}
