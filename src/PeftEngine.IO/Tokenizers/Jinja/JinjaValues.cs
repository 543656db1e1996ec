using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace PeftEngine.IO.Tokenizers.Jinja;

/// <summary>Jinja's undefined value: what a missing variable, attribute or item evaluates to. It prints as nothing,
/// is false, iterates as empty and compares equal only to another undefined; using it in arithmetic or taking an
/// attribute of it is an error naming what was missing.</summary>
internal sealed class JinjaUndefined(string what)
{
    /// <summary>What was looked up, for error messages ("variable 'tools'", "attribute 'content'").</summary>
    public string What { get; } = what;
}

/// <summary>The object <c>namespace(...)</c> returns: the one value whose attributes <c>{% set ns.x = ... %}</c>
/// may assign, which is how a template carries state out of a loop.</summary>
internal sealed class JinjaNamespace(Dictionary<string, object?> values)
{
    public Dictionary<string, object?> Values { get; } = values;
}

/// <summary>A callable value: a global function (<c>range</c>, <c>raise_exception</c>) or a bound method
/// (<c>text.strip</c>).</summary>
internal delegate object? JinjaCallable(IReadOnlyList<object?> args, IReadOnlyDictionary<string, object?> kwargs, SourcePosition at);

/// <summary>
/// The Python semantics of template values: values are C# <c>string</c>, <c>long</c>, <c>double</c>, <c>bool</c>,
/// <c>null</c> (none), <see cref="JinjaUndefined"/>, <c>List&lt;object?&gt;</c>, <c>Dictionary&lt;string,
/// object?&gt;</c>, <see cref="JinjaNamespace"/> and <see cref="JinjaCallable"/>. Truthiness, printing (Python's
/// <c>str</c>), equality, ordering and <c>tojson</c> follow Python.
/// </summary>
internal static class JinjaValues
{
    /// <summary>Converts a caller's value (strings, numbers, IDictionary, IEnumerable, <see cref="ChatMessage"/>,
    /// JsonElement) into template values.</summary>
    public static object? FromClr(object? value) => value switch
    {
        null or string or bool or long or double or JinjaUndefined or JinjaNamespace or JinjaCallable => value,
        int or short or byte or uint or ushort or sbyte => Convert.ToInt64(value, CultureInfo.InvariantCulture),
        ulong u => (long)u,
        float f => (double)f,
        decimal m => (double)m,
        ChatMessage m => new Dictionary<string, object?> { ["role"] = m.Role, ["content"] = m.Content },
        JsonElement e => FromJson(e),
        IDictionary<string, object?> d => d.ToDictionary(p => p.Key, p => FromClr(p.Value)),
        IReadOnlyDictionary<string, object?> d => d.ToDictionary(p => p.Key, p => FromClr(p.Value)),
        IDictionary d => d.Keys.Cast<object>().ToDictionary(k => Convert.ToString(k, CultureInfo.InvariantCulture) ?? "", k => FromClr(d[k])),
        IEnumerable e => e.Cast<object?>().Select(FromClr).ToList(),
        _ => throw new ArgumentException($"chat template: a value of type {value.GetType().Name} cannot be passed to a template"),
    };

    private static object? FromJson(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out long l) ? l : (object)e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Array => e.EnumerateArray().Select(FromJson).ToList(),
        JsonValueKind.Object => e.EnumerateObject().ToDictionary(p => p.Name, p => FromJson(p.Value)),
        _ => null,
    };

    /// <summary>Python truthiness.</summary>
    public static bool IsTrue(object? v) => v switch
    {
        null or JinjaUndefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        ICollection c => c.Count > 0,
        _ => true,
    };

    /// <summary>The Python type name, for error messages.</summary>
    public static string TypeName(object? v) => v switch
    {
        null => "none",
        JinjaUndefined => "undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        Dictionary<string, object?> => "dict",
        JinjaNamespace => "namespace",
        JinjaCallable => "function",
        _ => v.GetType().Name,
    };

    /// <summary>What <c>{{ v }}</c> prints: Python's <c>str(v)</c>, with undefined printing nothing.</summary>
    public static string ToText(object? v) => v switch
    {
        string s => s,
        JinjaUndefined => "",
        _ => Repr(v),
    };

    /// <summary>Python's <c>repr</c> (strings quoted), as used inside printed lists and dicts.</summary>
    public static string Repr(object? v) => v switch
    {
        null => "None",
        JinjaUndefined => "",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FormatDouble(d),
        string s => "'" + s.Replace("\\", "\\\\").Replace("'", "\\'").Replace("\n", "\\n") + "'",
        List<object?> list => "[" + string.Join(", ", list.Select(Repr)) + "]",
        Dictionary<string, object?> dict => "{" + string.Join(", ", dict.Select(p => Repr(p.Key) + ": " + Repr(p.Value))) + "}",
        JinjaNamespace => "<Namespace>",
        _ => v.ToString() ?? "",
    };

    private static string FormatDouble(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        return PythonJson.Float(d);
    }

    /// <summary>Python's <c>==</c> (numbers across int/float/bool, lists and dicts by content).</summary>
    public static bool AreEqual(object? a, object? b)
    {
        if (a is JinjaUndefined || b is JinjaUndefined) return a is JinjaUndefined && b is JinjaUndefined;
        if (IsNumber(a) && IsNumber(b)) return ToDouble(a) == ToDouble(b);
        return (a, b) switch
        {
            (null, null) => true,
            (string x, string y) => x == y,
            (List<object?> x, List<object?> y) => x.Count == y.Count && x.Zip(y).All(p => AreEqual(p.First, p.Second)),
            (Dictionary<string, object?> x, Dictionary<string, object?> y) =>
                x.Count == y.Count && x.All(p => y.TryGetValue(p.Key, out var o) && AreEqual(p.Value, o)),
            _ => ReferenceEquals(a, b),
        };
    }

    /// <summary>Python's ordering (&lt;, &gt;): numbers, strings (by code point) and lists; other pairs are an error.</summary>
    public static int Compare(object? a, object? b, SourcePosition at)
    {
        if (IsNumber(a) && IsNumber(b)) return ToDouble(a).CompareTo(ToDouble(b));
        if (a is string x && b is string y) return string.CompareOrdinal(x, y);
        if (a is List<object?> la && b is List<object?> lb)
        {
            for (int i = 0; i < Math.Min(la.Count, lb.Count); i++)
            {
                if (!AreEqual(la[i], lb[i])) return Compare(la[i], lb[i], at);
            }
            return la.Count.CompareTo(lb.Count);
        }
        throw new JinjaException($"cannot order {TypeName(a)} and {TypeName(b)}", at);
    }

    /// <summary>True for int, float and bool (Python's bool is an int).</summary>
    public static bool IsNumber(object? v) => v is long or double or bool;

    /// <summary>The number as a double.</summary>
    public static double ToDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new InvalidOperationException("not a number"),
    };

    /// <summary>The items a for loop visits: list items, string characters, dict keys; undefined is empty.</summary>
    public static IReadOnlyList<object?> Iterate(object? v, SourcePosition at) => v switch
    {
        List<object?> list => list,
        Dictionary<string, object?> dict => dict.Keys.Cast<object?>().ToList(),
        string s => s.EnumerateRunes().Select(r => (object?)r.ToString()).ToList(),
        JinjaUndefined => [],
        _ => throw new JinjaException($"a {TypeName(v)} value cannot be iterated", at),
    };

    /// <summary>The length of a string (in code points), list or dict.</summary>
    public static long Length(object? v, SourcePosition at) => v switch
    {
        string s => s.EnumerateRunes().Count(),
        ICollection c => c.Count,
        JinjaUndefined => 0,
        _ => throw new JinjaException($"a {TypeName(v)} value has no length", at),
    };

    /// <summary>Python's <c>json.dumps(v, ensure_ascii=False, indent=indent)</c>, as Hugging Face's <c>tojson</c>
    /// filter writes it: ", " and ": " separators without indent, "," and ": " with it.</summary>
    public static string ToJson(object? v, int? indent, SourcePosition at)
    {
        var sb = new StringBuilder();
        WriteJson(sb, v, indent, 0, at);
        return sb.ToString();
    }

    private static void WriteJson(StringBuilder sb, object? v, int? indent, int depth, SourcePosition at)
    {
        switch (v)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(double.IsFinite(d) ? FormatDouble(d) : double.IsNaN(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity"); break;
            case string s: sb.Append(PythonJson.String(s, ensureAscii: false)); break;
            case List<object?> list:
                WriteJsonContainer(sb, '[', ']', list, indent, depth, (item, _) => WriteJson(sb, item, indent, depth + 1, at));
                break;
            case Dictionary<string, object?> dict:
                WriteJsonContainer(sb, '{', '}', dict.ToList(), indent, depth, (p, _) =>
                {
                    sb.Append(PythonJson.String(p.Key, ensureAscii: false));
                    sb.Append(": ");
                    WriteJson(sb, p.Value, indent, depth + 1, at);
                });
                break;
            case JinjaNamespace ns: WriteJson(sb, ns.Values, indent, depth, at); break;
            default: throw new JinjaException($"a {TypeName(v)} value cannot be written as JSON", at);
        }
    }

    private static void WriteJsonContainer<T>(StringBuilder sb, char open, char close, IReadOnlyList<T> items, int? indent, int depth, Action<T, int> writeItem)
    {
        sb.Append(open);
        if (items.Count == 0)
        {
            sb.Append(close);
            return;
        }
        for (int i = 0; i < items.Count; i++)
        {
            if (i > 0) sb.Append(indent is null ? ", " : ",");
            if (indent is int n) sb.Append('\n').Append(' ', n * (depth + 1));
            writeItem(items[i], i);
        }
        if (indent is int m) sb.Append('\n').Append(' ', m * depth);
        sb.Append(close);
    }
}
