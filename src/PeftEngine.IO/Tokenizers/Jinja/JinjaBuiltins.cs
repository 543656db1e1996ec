using System.Globalization;
using System.Text;

namespace PeftEngine.IO.Tokenizers.Jinja;

/// <summary>
/// The functions a chat template can call: the globals <c>raise_exception</c>, <c>range</c>, <c>namespace</c>,
/// <c>dict</c>; the filters (<c>| trim</c>, <c>| length</c>, <c>| tojson</c>, ...); the tests (<c>is defined</c>,
/// <c>is string</c>, ...); and the Python string and dict methods templates call (<c>.strip()</c>,
/// <c>.startswith(...)</c>, <c>.items()</c>, ...). Anything else is an error naming it.
/// </summary>
/// <remarks>Python equivalent: Jinja's <c>DEFAULT_FILTERS</c>/<c>DEFAULT_TESTS</c> plus the globals transformers
/// adds in <c>_compile_jinja_template</c> (its own <c>tojson</c> and <c>raise_exception</c>).</remarks>
internal static class JinjaBuiltins
{
    /// <summary>The global functions.</summary>
    public static Dictionary<string, object?> Globals() => new(StringComparer.Ordinal)
    {
        ["raise_exception"] = (JinjaCallable)((args, _, at) =>
            throw new JinjaException($"the template refused the conversation: {(args.Count > 0 ? JinjaValues.ToText(args[0]) : "raise_exception()")}", at, raisedByTemplate: true)),
        ["range"] = (JinjaCallable)Range,
        ["namespace"] = (JinjaCallable)((args, kwargs, at) => new JinjaNamespace(new Dictionary<string, object?>(kwargs))),
        ["dict"] = (JinjaCallable)((args, kwargs, at) => new Dictionary<string, object?>(kwargs)),
    };

    private static object? Range(IReadOnlyList<object?> args, IReadOnlyDictionary<string, object?> kwargs, SourcePosition at)
    {
        long[] n = args.Select(a => a is long l ? l : throw new JinjaException($"range() takes integers, got {JinjaValues.TypeName(a)}", at)).ToArray();
        var (start, stop, step) = n.Length switch
        {
            1 => (0L, n[0], 1L),
            2 => (n[0], n[1], 1L),
            3 => (n[0], n[1], n[2]),
            _ => throw new JinjaException($"range() takes 1 to 3 arguments, got {n.Length}", at),
        };
        if (step == 0) throw new JinjaException("range() step must not be zero", at);
        var list = new List<object?>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step) list.Add(i);
        return list;
    }

    /// <summary>Applies the filter <paramref name="name"/> to <paramref name="value"/>.</summary>
    public static object? Filter(string name, object? value, IReadOnlyList<object?> args, IReadOnlyDictionary<string, object?> kwargs, SourcePosition at)
    {
        object? Arg(int i, string key, object? fallback) => i < args.Count ? args[i] : kwargs.TryGetValue(key, out var v) ? v : fallback;
        switch (name)
        {
            case "trim": return Strip(JinjaValues.ToText(value), Arg(0, "chars", null) as string, left: true, right: true);
            case "length" or "count": return JinjaValues.Length(value, at);
            case "tojson": return JinjaValues.ToJson(value, Arg(0, "indent", null) is long indent ? (int)indent : null, at);
            case "upper": return JinjaValues.ToText(value).ToUpperInvariant();
            case "lower": return JinjaValues.ToText(value).ToLowerInvariant();
            case "capitalize": return Capitalize(JinjaValues.ToText(value));
            case "title": return Title(JinjaValues.ToText(value));
            case "string": return JinjaValues.ToText(value);
            case "safe": return value;
            case "default" or "d":
                bool boolean = JinjaValues.IsTrue(Arg(1, "boolean", false));
                return value is JinjaUndefined || (boolean && !JinjaValues.IsTrue(value)) ? Arg(0, "default_value", "") : value;
            case "first" or "last":
            {
                var items = JinjaValues.Iterate(value, at);
                return items.Count == 0 ? new JinjaUndefined($"the {name} item of an empty sequence") : name == "first" ? items[0] : items[^1];
            }
            case "list": return JinjaValues.Iterate(value, at).ToList();
            case "reverse":
                return value is string s ? string.Concat(s.EnumerateRunes().Reverse().Select(r => r.ToString()))
                    : (object)JinjaValues.Iterate(value, at).Reverse().ToList();
            case "join":
                return string.Join(JinjaValues.ToText(Arg(0, "d", "")), JinjaValues.Iterate(value, at).Select(JinjaValues.ToText));
            case "replace":
                return JinjaValues.ToText(value).Replace(JinjaValues.ToText(Arg(0, "old", "")), JinjaValues.ToText(Arg(1, "new", "")), StringComparison.Ordinal);
            case "items":
                return value is Dictionary<string, object?> d ? d.Select(p => (object?)new List<object?> { p.Key, p.Value }).ToList()
                    : throw new JinjaException($"the 'items' filter needs a dict, got {JinjaValues.TypeName(value)}", at);
            case "int":
                return value switch
                {
                    long or bool => (long)JinjaValues.ToDouble(value),
                    double x => (long)Math.Truncate(x),
                    string t when long.TryParse(t.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long l) => l,
                    _ => Arg(0, "default", 0L),
                };
            case "float":
                return JinjaValues.IsNumber(value) ? JinjaValues.ToDouble(value)
                    : value is string f && double.TryParse(f.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double x2) ? x2 : Arg(0, "default", 0.0);
            case "abs":
                return value switch
                {
                    long l => (object)Math.Abs(l),
                    double x => Math.Abs(x),
                    _ => throw new JinjaException($"the 'abs' filter needs a number, got {JinjaValues.TypeName(value)}", at),
                };
            default:
                throw new JinjaException($"the filter '{name}' is not supported", at);
        }
    }

    /// <summary>Evaluates the test <c>value is name(args)</c>.</summary>
    public static bool Test(string name, object? value, IReadOnlyList<object?> args, SourcePosition at) => name switch
    {
        "defined" => value is not JinjaUndefined,
        "undefined" => value is JinjaUndefined,
        "none" => value is null,
        "string" => value is string,
        "number" => value is long or double,
        "integer" => value is long,
        "float" => value is double,
        "boolean" => value is bool,
        "true" => value is true,
        "false" => value is false,
        "mapping" => value is Dictionary<string, object?> or JinjaNamespace,
        "iterable" => value is string or List<object?> or Dictionary<string, object?>,
        "sequence" => value is string or List<object?> or Dictionary<string, object?>,
        "callable" => value is JinjaCallable,
        "odd" => value is long l && Math.Abs(l % 2) == 1,
        "even" => value is long e && e % 2 == 0,
        "divisibleby" => value is long a && args.Count == 1 && args[0] is long b && b != 0 && a % b == 0,
        "eq" or "equalto" or "==" => args.Count == 1 && JinjaValues.AreEqual(value, args[0]),
        "ne" or "!=" => args.Count == 1 && !JinjaValues.AreEqual(value, args[0]),
        _ => throw new JinjaException($"the test '{name}' is not supported", at),
    };

    /// <summary>The method <paramref name="name"/> of a string or dict bound to <paramref name="target"/>, or null
    /// when it has no such method.</summary>
    public static JinjaCallable? Method(object? target, string name)
    {
        if (target is string s)
        {
            return name switch
            {
                "strip" or "lstrip" or "rstrip" => (args, _, at) => Strip(s, args.Count > 0 ? args[0] as string : null, name != "rstrip", name != "lstrip"),
                "startswith" or "endswith" => (args, _, at) =>
                {
                    if (args.Count != 1) throw new JinjaException($"{name}() takes one argument", at);
                    var options = args[0] is List<object?> list ? list : [args[0]];
                    return options.Any(o => o is string p && (name == "startswith" ? s.StartsWith(p, StringComparison.Ordinal) : s.EndsWith(p, StringComparison.Ordinal)));
                },
                "upper" => (_, _, _) => s.ToUpperInvariant(),
                "lower" => (_, _, _) => s.ToLowerInvariant(),
                "title" => (_, _, _) => Title(s),
                "capitalize" => (_, _, _) => Capitalize(s),
                "split" => (args, kwargs, at) => Split(s, args.Count > 0 ? args[0] as string : kwargs.GetValueOrDefault("sep") as string,
                    args.Count > 1 && args[1] is long max ? max : kwargs.GetValueOrDefault("maxsplit") is long km ? km : -1, at),
                "replace" => (args, _, at) => args.Count >= 2 && args[0] is string o && args[1] is string n
                    ? s.Replace(o, n, StringComparison.Ordinal) : throw new JinjaException("replace() takes two strings", at),
                "join" => (args, _, at) => string.Join(s, JinjaValues.Iterate(args.Count > 0 ? args[0] : null, at).Select(JinjaValues.ToText)),
                "count" => (args, _, at) => args.Count > 0 && args[0] is string sub && sub.Length > 0 ? (long)CountOf(s, sub) : throw new JinjaException("count() takes a non-empty string", at),
                "find" => (args, _, at) => args.Count > 0 && args[0] is string sub ? (long)s.IndexOf(sub, StringComparison.Ordinal) : throw new JinjaException("find() takes a string", at),
                _ => null,
            };
        }
        if (target is Dictionary<string, object?> d)
        {
            return name switch
            {
                "items" => (_, _, _) => d.Select(p => (object?)new List<object?> { p.Key, p.Value }).ToList(),
                "keys" => (_, _, _) => d.Keys.Cast<object?>().ToList(),
                "values" => (_, _, _) => d.Values.ToList(),
                "get" => (args, _, at) => args.Count is 1 or 2 && args[0] is string key
                    ? d.TryGetValue(key, out var v) ? v : args.Count == 2 ? args[1] : null
                    : throw new JinjaException("get() takes a string key and an optional default", at),
                _ => null,
            };
        }
        return null;
    }

    /// <summary>Python's <c>str.strip(chars)</c>: whitespace when <paramref name="chars"/> is null.</summary>
    private static string Strip(string s, string? chars, bool left, bool right)
    {
        int start = 0, end = s.Length;
        bool Strippable(char c) => chars is null ? char.IsWhiteSpace(c) : chars.Contains(c);
        if (left) while (start < end && Strippable(s[start])) start++;
        if (right) while (end > start && Strippable(s[end - 1])) end--;
        return s[start..end];
    }

    private static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    private static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool previousIsLetter = false;
        foreach (char c in s)
        {
            sb.Append(previousIsLetter ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousIsLetter = char.IsLetter(c);
        }
        return sb.ToString();
    }

    /// <summary>Python's <c>str.split(sep, maxsplit)</c>: with no separator, runs of whitespace split and empty
    /// pieces are dropped.</summary>
    private static List<object?> Split(string s, string? sep, long maxSplit, SourcePosition at)
    {
        var parts = new List<object?>();
        if (sep is null)
        {
            int i = 0;
            while (true)
            {
                while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
                if (i >= s.Length) break;
                if (maxSplit >= 0 && parts.Count == maxSplit)
                {
                    parts.Add(s[i..].TrimEnd());
                    break;
                }
                int j = i;
                while (j < s.Length && !char.IsWhiteSpace(s[j])) j++;
                parts.Add(s[i..j]);
                i = j;
            }
            return parts;
        }
        if (sep.Length == 0) throw new JinjaException("split() with an empty separator", at);
        int from = 0;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            int k = s.IndexOf(sep, from, StringComparison.Ordinal);
            if (k < 0) break;
            parts.Add(s[from..k]);
            from = k + sep.Length;
        }
        parts.Add(s[from..]);
        return parts;
    }

    private static int CountOf(string s, string sub)
    {
        int n = 0;
        for (int i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal)) n++;
        return n;
    }
}
