using System.CommandLine;
using Stage2Lab.Kvm;
using Stage2Lab.Reports;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Scripts;

namespace Stage2Lab.Cli;

/// <summary>
/// `s2lab explain`: one decision step by step, from a scenario (--ipa, --event) or from an .s2faults script
/// (--line). The kind of file is recognised by its content; an option the kind does not take is refused (exit 2).
/// </summary>
internal static class ExplainCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var file = new Argument<string>("file") { Description = "A scenario file (with --ipa), or an .s2faults script (with --line); - for standard input." };
        var ipa = new Option<string?>("--ipa") { Description = "Scenario: the IPA whose fault to explain (hex, or with K/M/G suffix)." };
        var policy = PolicyOptions.Single("The policy (default: the newest kernel the scenario lists; for a script, its policy header).");
        var ev = NumberOptions.Optional<int>("--event", "Scenario: prefer a fault during this timeline event (1-based); without one there, the first fault elsewhere is shown and said to be.");
        var line = NumberOptions.Optional<int>("--line", ".s2faults script: the line of the access to explain.");
        var maxMemory = ScenarioCommands.MaxMemoryOption();
        var output = new OutputOptions(jsonSchema: $"{JsonReport.Schema}, or {JsonReport.ScriptDecisionSchema} for a script line");
        var command = new Command("explain", "Explain one fault step by step: which fault was picked and why, the slot and VMA found, every size tried and why it passed or failed, the final size and prot, and the page-table work it caused.")
        {
            file,
            ipa,
            policy,
            ev,
            line,
            maxMemory,
        };
        output.AddTo(command);
        command.SetAction(parse => CommandGuard.Run(stderr, () =>
        {
            output.Preflight(parse);
            InputFile input = InputFile.Open(parse.GetValue(file)!);
            if (input.Kind == InputKind.S2Ops)
                throw new UsageException($"{input.Name} is {InputKinds.Describe(input.Kind)}: it has page-table operations, not faults to explain; run it with `s2lab replay {input.Path}`");
            if (input.Kind == InputKind.S2Faults)
            {
                Refuse(parse, "an .s2faults script", "--line N", ipa, ev, maxMemory, output.Report);
                return ScriptLine(parse, input, parse.GetValue(line), parse.GetValue(policy), output, stdout, stderr);
            }
            Refuse(parse, "a scenario", "--ipa ADDR [--event N]", line);
            if (parse.GetValue(ipa) is not { } ipaText)
                throw new UsageException("explain needs --ipa ADDR for a scenario (or --line N for an .s2faults script)");
            if (!Stage2Lab.Arch.NumberText.TryParse(ipaText.Replace("_", ""), out ulong ipaValue))
                throw new UsageException($"--ipa '{ipaText}' is not an address; expected hex like 0x8000_0000 or a size like 2G");
            Scenario s = input.LoadScenario();
            string name = parse.GetValue(policy) ?? ScenarioCommands.DefaultPolicy(s);
            int? eventNumber = parse.GetValue(ev);
            if (eventNumber is { } n && (n < 1 || n > s.Timeline.Count))
                throw new UsageException($"--event {n} is out of range; the timeline has events 1..{s.Timeline.Count}");
            ScenarioCommands.EnsureMemory(s, [name], false, parse.GetValue(maxMemory));
            ScenarioResult result = ScenarioCommands.Execute(s, [name], stderr, new RunOptions { ExplainIpa = ipaValue, ExplainEvent = eventNumber, CaptureDecisions = false });
            ExplainedDecision e = result.Runs[0].Explained!;
            string note = DecisionTables.PickNote(e);
            string text = $"picked: {note}\n{DecisionText.Render(e.Record)}";
            var shown = new CommandOutput(
                [],
                text,
                $"**Picked:** {note}\n\n```\n{DecisionText.Render(e.Record)}```\n",
                stream => JsonReport.Write(stream, result, "explain"),
                () => HtmlReport.Render(result));
            return output.Emit(parse, shown, stdout, stderr);
        }));
        return command;
    }

    /// <summary>Options this kind of input does not take are a usage error, named, before anything runs.</summary>
    private static void Refuse(ParseResult parse, string kind, string takes, params Option[] options)
    {
        foreach (Option option in options)
        {
            if (OutputOptions.Given(parse, option))
                throw new UsageException($"{option.Name} does not apply to {kind}; explain of {kind} takes {takes}");
        }
    }

    private static int ScriptLine(ParseResult parse, InputFile input, int? line, string? policy, OutputOptions output, TextWriter stdout, TextWriter stderr)
    {
        if (line is not { } wanted)
            throw new UsageException("explain of an .s2faults script needs --line N (the line of an access)");
        DecisionRecord? record = null;
        using ScriptSource source = input.OpenScript();
        InternalError.Activity = $"running {input.Name}";
        S2FaultsScript.Run(source, TextWriter.Null, stats: false, explainLine: n => n == wanted ? record = new DecisionRecord() : null, policyOverride: policy);
        if (record is null)
        {
            int lines = source.LineNumber;
            if (wanted < 1 || wanted > lines)
                throw new UsageException($"{input.Name}: --line {wanted} is past the end of the script, which has {lines} line(s)");
            throw new UsageException($"{input.Name}:{wanted}: not an access line ({LineText(source, wanted)}); --line must name an 'access' event");
        }
        string rendered = DecisionText.Render(record);
        var shown = new CommandOutput(
            [],
            rendered,
            $"```\n{rendered}```\n",
            CommandOutput.JsonText(() => JsonReport.RenderScriptDecision(input.Name, wanted, record)),
            null);
        return output.Emit(parse, shown, stdout, stderr);
    }

    /// <summary>The text of line <paramref name="number"/>, quoted for a message.</summary>
    private static string LineText(ScriptSource source, int number)
    {
        source.Rewind();
        while (source.TryReadLine(out ReadOnlySpan<byte> bytes))
        {
            if (source.LineNumber == number)
            {
                string text = System.Text.Encoding.UTF8.GetString(bytes).Trim();
                return text.Length == 0 ? "it is empty" : $"it is '{(text.Length > 60 ? text[..60] + "..." : text)}'";
            }
        }
        return "it is empty";
    }
}
