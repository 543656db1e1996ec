namespace PeftEngine.Peft.Reft;

/// <summary>
/// pyreft's position spec ("f3+l3") and the positions it selects in one prompt: the first n and the last m
/// prompt tokens, each count capped at ⌊L/2⌋ for a prompt of L tokens so that the two groups never overlap.
/// </summary>
/// <remarks>pyreft: parse_positions and get_intervention_locations (pyreft.dataset).</remarks>
public readonly record struct ReftPositions(int First, int Last)
{
    /// <summary>Parses "f<i>n</i>", "l<i>m</i>" or "f<i>n</i>+l<i>m</i>" (counts ≥ 0).</summary>
    public static ReftPositions Parse(string spec)
    {
        ArgumentException.ThrowIfNullOrEmpty(spec);
        int first = 0, last = 0;
        foreach (var raw in spec.Split('+'))
        {
            var part = raw.Trim();
            if (part.Length < 2 || (part[0] != 'f' && part[0] != 'l') || !int.TryParse(part[1..], out int n) || n < 0)
                throw new ArgumentException($"ReFT positions \"{spec}\": expected \"f<n>\", \"l<n>\" or \"f<n>+l<n>\" with counts ≥ 0, got the part \"{part}\"");
            if (part[0] == 'f') first = n; else last = n;
        }
        if (first == 0 && last == 0) throw new ArgumentException($"ReFT positions \"{spec}\" select no position");
        return new ReftPositions(first, last);
    }

    /// <summary>True when the spec has both a first and a last group (then unshared weights mean two interventions).</summary>
    public bool HasBothGroups => First > 0 && Last > 0;

    /// <summary>The indices into a prompt of <paramref name="promptLength"/> tokens: (first group, last group).</summary>
    public (int[] First, int[] Last) Select(int promptLength)
    {
        int half = promptLength / 2;
        int f = Math.Min(half, First), l = Math.Min(half, Last);
        var first = Enumerable.Range(0, f).ToArray();
        var last = Enumerable.Range(promptLength - l, l).ToArray();
        return (first, last);
    }
}
