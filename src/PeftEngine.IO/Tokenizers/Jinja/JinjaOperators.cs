namespace PeftEngine.IO.Tokenizers.Jinja;

/// <summary>
/// The binary and unary operators with Python's semantics: <c>+</c> adds numbers and joins strings or lists,
/// <c>~</c> joins the printed forms of any two values, <c>/</c> always gives a float, <c>//</c> and <c>%</c> floor
/// towards negative infinity, <c>*</c> repeats strings and lists, comparisons and <c>in</c> / <c>not in</c>.
/// Applying an operator to an undefined value is an error naming the value.
/// </summary>
internal static class JinjaOperators
{
    /// <summary>Evaluates <c>left op right</c>.</summary>
    public static object? Apply(string op, object? left, object? right, SourcePosition at)
    {
        switch (op)
        {
            case "==": return JinjaValues.AreEqual(left, right);
            case "!=": return !JinjaValues.AreEqual(left, right);
            case "<": return JinjaValues.Compare(Defined(left, op, at), Defined(right, op, at), at) < 0;
            case ">": return JinjaValues.Compare(Defined(left, op, at), Defined(right, op, at), at) > 0;
            case "<=": return JinjaValues.Compare(Defined(left, op, at), Defined(right, op, at), at) <= 0;
            case ">=": return JinjaValues.Compare(Defined(left, op, at), Defined(right, op, at), at) >= 0;
            case "in": return Contains(right, left, at);
            case "not in": return !Contains(right, left, at);
            case "~": return JinjaValues.ToText(left) + JinjaValues.ToText(right);
        }
        Defined(left, op, at);
        Defined(right, op, at);
        switch (op, left, right)
        {
            case ("+", string a, string b): return a + b;
            case ("+", List<object?> a, List<object?> b): return a.Concat(b).ToList();
            case ("*", string s, long n): return string.Concat(Enumerable.Repeat(s, (int)Math.Max(0, n)));
            case ("*", List<object?> l, long n): return Enumerable.Repeat(l, (int)Math.Max(0, n)).SelectMany(x => x).ToList();
        }
        if (!JinjaValues.IsNumber(left) || !JinjaValues.IsNumber(right))
            throw new JinjaException($"operator '{op}' cannot combine {JinjaValues.TypeName(left)} and {JinjaValues.TypeName(right)}", at);
        if (left is not double && right is not double && op != "/")
        {
            long a = (long)JinjaValues.ToDouble(left), b = (long)JinjaValues.ToDouble(right);
            switch (op)
            {
                case "+": return a + b;
                case "-": return a - b;
                case "*": return a * b;
                case "//": return b == 0 ? throw DivisionByZero(at) : (long)Math.Floor((double)a / b);
                case "%": return b == 0 ? throw DivisionByZero(at) : ((a % b) + b) % b;
                case "**" when b >= 0: return (long)Math.Pow(a, b);
            }
        }
        double x = JinjaValues.ToDouble(left), y = JinjaValues.ToDouble(right);
        return op switch
        {
            "+" => x + y,
            "-" => x - y,
            "*" => x * y,
            "/" => y == 0 ? throw DivisionByZero(at) : x / y,
            "//" => y == 0 ? throw DivisionByZero(at) : Math.Floor(x / y),
            "%" => y == 0 ? throw DivisionByZero(at) : x - y * Math.Floor(x / y),
            "**" => Math.Pow(x, y),
            _ => throw new JinjaException($"unknown operator '{op}'", at),
        };
    }

    /// <summary>Unary minus (or plus) of a number.</summary>
    public static object? Negate(object? value, bool negate, SourcePosition at) => Defined(value, negate ? "-" : "+", at) switch
    {
        long l => (object)(negate ? -l : l),
        double d => negate ? -d : d,
        bool b => negate ? -(b ? 1L : 0L) : (b ? 1L : 0L),
        var v => throw new JinjaException($"unary '{(negate ? "-" : "+")}' needs a number, got {JinjaValues.TypeName(v)}", at),
    };

    /// <summary><c>item in container</c>: substring, list member (by ==) or dict key; nothing is in undefined.</summary>
    private static bool Contains(object? container, object? item, SourcePosition at) => container switch
    {
        string s => item is string sub ? s.Contains(sub, StringComparison.Ordinal)
            : throw new JinjaException($"'in <string>' needs a string on the left, got {JinjaValues.TypeName(item)}", at),
        List<object?> list => list.Any(x => JinjaValues.AreEqual(x, item)),
        Dictionary<string, object?> d => item is string key && d.ContainsKey(key),
        JinjaNamespace ns => item is string key && ns.Values.ContainsKey(key),
        JinjaUndefined => false,
        _ => throw new JinjaException($"'in' needs a string, list or dict on the right, got {JinjaValues.TypeName(container)}", at),
    };

    private static object? Defined(object? value, string op, SourcePosition at) =>
        value is JinjaUndefined u ? throw new JinjaException($"{u.What} is undefined and cannot be used with '{op}'", at) : value;

    private static JinjaException DivisionByZero(SourcePosition at) => new("division by zero", at);
}
