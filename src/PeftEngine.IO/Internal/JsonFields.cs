using System.Text.Json;

namespace PeftEngine.IO;

/// <summary>Typed reads of optional fields from a JSON object, with errors naming the file and the key.</summary>
internal sealed class JsonFields(JsonElement obj, string file, string what)
{
    public JsonElement Element => obj;

    public bool Has(string key) => obj.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null;

    private JsonElement? Get(string key) =>
        obj.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public InvalidDataException Error(string key, string message) => new($"{what} '{file}', key '{key}': {message}");

    public int? IntOrNull(string key)
    {
        if (Get(key) is not { } v) return null;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i)) return i;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && d == Math.Floor(d) && Math.Abs(d) < int.MaxValue) return (int)d;
        throw Error(key, $"expected an integer, got {v.GetRawText()}");
    }

    public int Int(string key, int fallback) => IntOrNull(key) ?? fallback;

    public double? DoubleOrNull(string key)
    {
        if (Get(key) is not { } v) return null;
        if (v.ValueKind == JsonValueKind.Number) return v.GetDouble();
        throw Error(key, $"expected a number, got {v.GetRawText()}");
    }

    public double Double(string key, double fallback) => DoubleOrNull(key) ?? fallback;

    public bool Bool(string key, bool fallback)
    {
        if (Get(key) is not { } v) return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error(key, $"expected true or false, got {v.GetRawText()}"),
        };
    }

    public string? StringOrNull(string key)
    {
        if (Get(key) is not { } v) return null;
        if (v.ValueKind == JsonValueKind.String) return v.GetString();
        throw Error(key, $"expected a string, got {v.GetRawText()}");
    }

    public string String(string key, string fallback) => StringOrNull(key) ?? fallback;

    /// <summary>An integer or a list of integers (e.g. eos_token_id), as an array; null when absent.</summary>
    public int[]? IntList(string key)
    {
        if (Get(key) is not { } v) return null;
        if (v.ValueKind == JsonValueKind.Number) return [IntOrNull(key)!.Value];
        if (v.ValueKind != JsonValueKind.Array) throw Error(key, $"expected an integer or a list of integers, got {v.GetRawText()}");
        return v.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int i) ? i
            : throw Error(key, $"expected integers, got {e.GetRawText()}")).ToArray();
    }

    public string[] StringList(string key)
    {
        if (Get(key) is not { } v) return [];
        if (v.ValueKind != JsonValueKind.Array) throw Error(key, $"expected a list of strings, got {v.GetRawText()}");
        return v.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()!
            : throw Error(key, $"expected strings, got {e.GetRawText()}")).ToArray();
    }

    public JsonFields? Object(string key)
    {
        if (Get(key) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Object) throw Error(key, $"expected an object, got {v.GetRawText()}");
        return new JsonFields(v, file, what);
    }
}
