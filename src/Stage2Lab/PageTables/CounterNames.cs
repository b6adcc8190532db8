namespace Stage2Lab.PageTables;

/// <summary>Stable kebab-case names of the counters, used in every output format.</summary>
public static class CounterNames
{
    private static readonly string[] Names = BuildNames();

    public static string Of(Stage2Counter counter) => Names[(int)counter];

    private static string[] BuildNames()
    {
        var names = new string[Stage2Counters.Count];
        for (int i = 0; i < names.Length; i++)
        {
            string name = ((Stage2Counter)i).ToString();
            var text = new System.Text.StringBuilder();
            for (int c = 0; c < name.Length; c++)
            {
                char ch = name[c];
                bool boundary = c > 0 && char.IsUpper(ch) && (char.IsLower(name[c - 1]) || char.IsDigit(name[c - 1]));
                if (boundary)
                    text.Append('-');
                text.Append(char.ToLowerInvariant(ch));
            }
            names[i] = text.ToString();
        }
        return names;
    }
}
