namespace Stage2Lab.Simulation.Scenarios;

/// <summary>
/// One value set from outside the file (a sweep's --vary): <paramref name="Key"/> is a key path as the scenario
/// errors print it (<c>host.page-size</c>, <c>mappings[1].start</c>), or with a list element named by its
/// <c>name</c> (or a memslot by its <c>id</c>): <c>mappings.gpu-bar1.start</c>, <c>memslots.1.ipa</c>.
/// <paramref name="Value"/> is the text the file would hold there; it is validated like the file's own.
/// </summary>
public readonly record struct ScenarioOverride(string Key, string Value);
