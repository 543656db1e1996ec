namespace PeftEngine.IO.Tokenizers.Jinja;

/// <summary>
/// Attribute, item and slice access with Jinja's lookup rules: <c>obj.name</c> looks for a method first and then
/// an item of that name, <c>obj[key]</c> an item first and then a method; a missing attribute, key or index gives
/// undefined (as Jinja does) rather than an error, but looking into an undefined value is an error naming it.
/// </summary>
/// <remarks>Python equivalent: <c>Environment.getattr</c> / <c>Environment.getitem</c> and Python slicing.</remarks>
internal static class JinjaAccess
{
    /// <summary><c>target.name</c>.</summary>
    public static object? Attribute(object? target, string name, SourcePosition at)
    {
        if (target is JinjaUndefined u) throw new JinjaException($"{u.What} is undefined, so it has no attribute '{name}'", at);
        if (JinjaBuiltins.Method(target, name) is { } method) return method;
        return target switch
        {
            Dictionary<string, object?> d when d.TryGetValue(name, out var v) => v,
            JinjaNamespace ns when ns.Values.TryGetValue(name, out var v) => v,
            _ => new JinjaUndefined($"attribute '{name}' of a {JinjaValues.TypeName(target)}"),
        };
    }

    /// <summary><c>target[key]</c>; negative indices count from the end.</summary>
    public static object? Item(object? target, object? key, SourcePosition at)
    {
        if (target is JinjaUndefined u) throw new JinjaException($"{u.What} is undefined, so it has no item [{JinjaValues.Repr(key)}]", at);
        switch (target, key)
        {
            case (Dictionary<string, object?> d, string k) when d.TryGetValue(k, out var v):
                return v;
            case (JinjaNamespace ns, string k) when ns.Values.TryGetValue(k, out var v):
                return v;
            case (List<object?> list, long or bool):
            {
                long i = (long)JinjaValues.ToDouble(key);
                if (i < 0) i += list.Count;
                return i >= 0 && i < list.Count ? list[(int)i] : new JinjaUndefined($"item [{key}] of a list of {list.Count}");
            }
            case (string s, long i0):
            {
                var runes = s.EnumerateRunes().ToArray();
                long i = i0 < 0 ? i0 + runes.Length : i0;
                return i >= 0 && i < runes.Length ? runes[i].ToString() : new JinjaUndefined($"item [{i0}] of a string of {runes.Length}");
            }
            case (_, string name) when JinjaBuiltins.Method(target, name) is { } method:
                return method;
            default:
                return new JinjaUndefined($"item [{JinjaValues.Repr(key)}] of a {JinjaValues.TypeName(target)}");
        }
    }

    /// <summary><c>target[start:stop:step]</c> of a list or string, with Python's rules for missing and negative
    /// bounds.</summary>
    public static object? Slice(object? target, object? start, object? stop, object? step, SourcePosition at)
    {
        long? Bound(object? v, string what) => v switch
        {
            null => null,
            long l => l,
            _ => throw new JinjaException($"slice {what} must be an integer, got {JinjaValues.TypeName(v)}", at),
        };
        long stride = Bound(step, "step") ?? 1;
        if (stride == 0) throw new JinjaException("slice step must not be zero", at);
        IReadOnlyList<object?> items = target switch
        {
            List<object?> list => list,
            string s => s.EnumerateRunes().Select(r => (object?)r.ToString()).ToList(),
            JinjaUndefined u => throw new JinjaException($"{u.What} is undefined and cannot be sliced", at),
            _ => throw new JinjaException($"a {JinjaValues.TypeName(target)} value cannot be sliced", at),
        };
        long n = items.Count;
        long Clamp(long? v, long fallback)
        {
            if (v is not long x) return fallback;
            if (x < 0) x += n;
            return stride > 0 ? Math.Clamp(x, 0, n) : Math.Clamp(x, -1, n - 1);
        }
        long from = Clamp(Bound(start, "start"), stride > 0 ? 0 : n - 1);
        long to = Clamp(Bound(stop, "stop"), stride > 0 ? n : -1);
        var result = new List<object?>();
        for (long i = from; stride > 0 ? i < to : i > to; i += stride) result.Add(items[(int)i]);
        return target is string ? string.Concat(result.Cast<string>()) : (object)result;
    }
}
