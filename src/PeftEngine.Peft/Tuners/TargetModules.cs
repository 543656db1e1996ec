namespace PeftEngine.Peft.Tuners;

/// <summary>
/// Which modules a method adapts, in one of HF PEFT's three spellings: a list of names (each matches a module whose
/// path equals it or ends with "." + it), one regular expression (matched against the whole path), or the
/// shorthand <c>all-linear</c> (every Linear / GPT-2 Conv1D except the output head).
/// </summary>
/// <remarks>HF: LoraConfig.target_modules (list[str] | str); the string "all-linear" is
/// peft.utils.constants.INCLUDE_LINEAR_LAYERS_SHORTHAND. A C# string converts to a regex (or to all-linear), a
/// string array to a name list, as in Python.</remarks>
public sealed record TargetModules
{
    /// <summary>The HF shorthand for "every linear layer but the output head".</summary>
    public const string AllLinearShorthand = "all-linear";

    private TargetModules(IReadOnlyList<string>? names, string? pattern)
    {
        Names = names;
        Pattern = pattern;
    }

    /// <summary>The names of a list (null for a regex or all-linear).</summary>
    public IReadOnlyList<string>? Names { get; }

    /// <summary>The regular expression, or <see cref="AllLinearShorthand"/> (null for a list).</summary>
    public string? Pattern { get; }

    /// <summary>True for the all-linear shorthand.</summary>
    public bool IsAllLinear => Pattern == AllLinearShorthand;

    /// <summary>A list of names or suffixes.</summary>
    public static TargetModules Of(params string[] names)
    {
        ArgumentNullException.ThrowIfNull(names);
        if (names.Length == 0) throw new ArgumentException("TargetModules.Of: give at least one module name");
        return new TargetModules(names.Distinct().ToArray(), null);
    }

    /// <summary>A regular expression matched against the full module path.</summary>
    public static TargetModules Regex(string pattern) =>
        new(null, pattern ?? throw new ArgumentNullException(nameof(pattern)));

    /// <summary>Every Linear / Conv1D but the output head.</summary>
    public static TargetModules AllLinear { get; } = new(null, AllLinearShorthand);

    /// <summary>A string is a regex, except the all-linear shorthand.</summary>
    public static implicit operator TargetModules(string pattern) => Regex(pattern);

    /// <summary>A string array is a list of names.</summary>
    public static implicit operator TargetModules(string[] names) => Of(names);

    /// <inheritdoc/>
    public bool Equals(TargetModules? other) => other is not null && Pattern == other.Pattern
        && (Names is null ? other.Names is null : other.Names is not null && Names.Order(StringComparer.Ordinal).SequenceEqual(other.Names.Order(StringComparer.Ordinal)));

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Pattern, Names?.Count);

    /// <inheritdoc/>
    public override string ToString() => Names is null ? $"'{Pattern}'" : "[" + string.Join(", ", Names.Select(n => $"'{n}'")) + "]";
}
