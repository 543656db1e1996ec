using System.Globalization;

namespace PeftEngine.IO.Gguf;

public sealed partial class GgufFile
{
    /// <summary>The raw value of <paramref name="key"/>, or an error naming the file and key.</summary>
    public object Get(string key) =>
        Metadata.TryGetValue(key, out var v) ? v : throw new KeyNotFoundException($"GGUF file '{Path}' has no metadata key '{key}'");

    /// <summary>True when <paramref name="key"/> is present.</summary>
    public bool Has(string key) => Metadata.ContainsKey(key);

    /// <summary>A string value.</summary>
    public string GetString(string key) => Get(key) as string ?? throw TypeError(key, "a string");

    /// <summary>Any integer value (u8..i64) as a long.</summary>
    public long GetInteger(string key) => AsInteger(Get(key)) ?? throw TypeError(key, "an integer");

    /// <summary>Any numeric value as a double.</summary>
    public double GetNumber(string key) => AsNumber(Get(key)) ?? throw TypeError(key, "a number");

    /// <summary>A bool value.</summary>
    public bool GetBool(string key) => Get(key) is bool b ? b : throw TypeError(key, "a bool");

    /// <summary>An array value.</summary>
    public GgufArray GetArray(string key) => Get(key) as GgufArray ?? throw TypeError(key, "an array");

    /// <summary>An array of strings.</summary>
    public string[] GetStringArray(string key) =>
        GetArray(key).Items.Select(v => v as string ?? throw TypeError(key, "an array of strings")).ToArray();

    /// <summary>An array of integers (any integer element type).</summary>
    public long[] GetIntegerArray(string key) =>
        GetArray(key).Items.Select(v => AsInteger(v) ?? throw TypeError(key, "an array of integers")).ToArray();

    /// <summary>An array of numbers as floats.</summary>
    public float[] GetFloatArray(string key) =>
        GetArray(key).Items.Select(v => (float)(AsNumber(v) ?? throw TypeError(key, "an array of numbers"))).ToArray();

    /// <summary>The architecture name (<c>general.architecture</c>, e.g. "llama").</summary>
    public string Architecture => GetString("general.architecture");

    /// <summary>An architecture-scoped integer such as <c>llama.attention.head_count</c>, or null when absent.</summary>
    public long? ArchInteger(string suffix)
    {
        string key = $"{Architecture}.{suffix}";
        return Has(key) ? GetInteger(key) : null;
    }

    private InvalidDataException TypeError(string key, string expected)
    {
        var t = MetadataTypes.TryGetValue(key, out var vt) ? vt.ToString() : "?";
        return new InvalidDataException($"GGUF file '{Path}', metadata '{key}': expected {expected}, found a {t} value");
    }

    private static long? AsInteger(object v) => v switch
    {
        byte b => b, sbyte b => b, ushort u => u, short s => s, uint u => u, int i => i, long l => l,
        ulong u when u <= long.MaxValue => (long)u,
        _ => null,
    };

    private static double? AsNumber(object v) => v switch
    {
        float f => f, double d => d,
        _ => AsInteger(v) is { } l ? l : null,
    };

    /// <summary>A short text form of a metadata value (arrays summarised), for listings.</summary>
    public static string Describe(object v) => v switch
    {
        GgufArray a => $"[{a.ElementType} x {a.Items.Count}]",
        string s => s.Length > 60 ? $"\"{s[..60]}...\"" : $"\"{s}\"",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };
}
