using BenchmarkDotNet.Running;
using Stage2Lab.Benchmarks;

// `--figures`: the end-to-end figures of issues 2, 3 and 6 (script replays, timed once, no BenchmarkDotNet).
// Anything else goes to BenchmarkDotNet, e.g. `--filter '*PageTable*' --job short`.
if (args.Length > 0 && args[0] == "--figures")
    return Figures.Run(args[1..]);

BenchmarkSwitcher.FromAssembly(typeof(Figures).Assembly).Run(args);
return 0;
