using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Stage2Lab.Simulation.Scenarios;

/// <summary>
/// YamlDotNet's event parser with a nesting limit: its node loader (<c>YamlNode.ParseNode</c>) recurses once per
/// level, so a hostile <c>[[[[...]]]]</c> of tens of thousands of levels would overflow the stack, which no
/// handler can catch. This stops at <see cref="ScenarioLimits.MaxYamlDepth"/> levels with the position of the
/// offending collection, and remembers the position of the last event so that an exception YamlDotNet throws
/// without one still names a line and column.
/// </summary>
internal sealed class BoundedYamlParser : IParser
{
    private readonly IParser _inner;
    private int _depth;

    public BoundedYamlParser(IParser inner) => _inner = inner;

    /// <summary>Where the last event the parser produced starts (1-based line and column; 1:1 before any).</summary>
    public Mark LastStart { get; private set; } = new(0, 1, 1);

    public ParsingEvent? Current => _inner.Current;

    public bool MoveNext()
    {
        if (!_inner.MoveNext())
            return false;
        ParsingEvent current = _inner.Current!;
        LastStart = current.Start;
        switch (current)
        {
            case MappingStart or SequenceStart:
                if (++_depth > ScenarioLimits.MaxYamlDepth)
                    throw new YamlNestingException(current.Start, current.End);
                break;
            case MappingEnd or SequenceEnd:
                _depth--;
                break;
        }
        return true;
    }
}

/// <summary>A YAML document nested deeper than <see cref="ScenarioLimits.MaxYamlDepth"/>.</summary>
internal sealed class YamlNestingException : YamlException
{
    public YamlNestingException(Mark start, Mark end)
        : base(start, end, $"nested more than {ScenarioLimits.MaxYamlDepth} levels deep; a scenario needs at most 5 (flatten the lists and mappings)")
    {
    }
}
