using System.Text.Json;

namespace PeftEngine.IO.Safetensors;

/// <summary>
/// The parsed and validated JSON header of a safetensors file: the tensor entries and the optional
/// <c>__metadata__</c> string map.
/// </summary>
/// <remarks>
/// Layout of a file: <c>u64 little-endian N</c>, then <c>N</c> bytes of UTF-8 JSON, then the data section. Every entry's
/// <c>data_offsets</c> are relative to the data section. Validation follows HF safetensors: offsets must match
/// dtype size times element count, entries must not overlap and must cover the data section with no holes.
/// </remarks>
public sealed class SafetensorsHeader
{
    /// <summary>Largest header accepted (HF uses the same 100 MB limit).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Key of the metadata map in the JSON header.</summary>
    public const string MetadataKey = "__metadata__";

    private readonly Dictionary<string, SafetensorsTensorInfo> _byName;

    private SafetensorsHeader(List<SafetensorsTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Tensors = tensors;
        Metadata = metadata;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>The entries in file order (by data offset).</summary>
    public IReadOnlyList<SafetensorsTensorInfo> Tensors { get; }

    /// <summary>The <c>__metadata__</c> map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The entry for <paramref name="name"/>, or null.</summary>
    public SafetensorsTensorInfo? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>Parses and validates a header. <paramref name="dataLength"/> is the size of the data section;
    /// <paramref name="file"/> is only used in error messages.</summary>
    public static SafetensorsHeader Parse(ReadOnlySpan<byte> json, long dataLength, string file)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json.ToArray()); }
        catch (JsonException e)
        {
            throw new InvalidDataException($"safetensors file '{file}': the header is not valid JSON ({e.Message})", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw Error(file, null, $"the header must be a JSON object, got {doc.RootElement.ValueKind}");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var tensors = new List<SafetensorsTensorInfo>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(prop.Name)) throw Error(file, prop.Name, "the key appears twice in the header");
                if (prop.Name == MetadataKey) ReadMetadata(prop.Value, metadata, file);
                else tensors.Add(ReadEntry(prop.Name, prop.Value, dataLength, file));
            }
            CheckCoverage(tensors, dataLength, file);
            return new SafetensorsHeader(tensors, metadata);
        }
    }

    private static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata, string file)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw Error(file, MetadataKey, "must be an object mapping strings to strings");
        foreach (var m in value.EnumerateObject())
        {
            if (m.Value.ValueKind != JsonValueKind.String)
                throw Error(file, $"{MetadataKey}.{m.Name}", $"metadata values must be strings, got {m.Value.ValueKind}");
            if (!metadata.TryAdd(m.Name, m.Value.GetString()!))
                throw Error(file, $"{MetadataKey}.{m.Name}", "the metadata key appears twice");
        }
    }

    private static SafetensorsTensorInfo ReadEntry(string name, JsonElement e, long dataLength, string file)
    {
        if (e.ValueKind != JsonValueKind.Object) throw Error(file, name, "a tensor entry must be an object");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw Error(file, name, "missing string field 'dtype'");
        string dtName = dt.GetString()!;
        if (!SafetensorsDTypes.TryParse(dtName, out var dtype))
            throw Error(file, name, $"unknown or unsupported dtype '{dtName}' (supported: {string.Join(", ", Enum.GetNames<SafetensorsDType>())})");
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw Error(file, name, "missing array field 'shape'");
        var shape = new int[sh.GetArrayLength()];
        int i = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int v) || v < 0)
                throw Error(file, name, $"shape entries must be non-negative integers below 2^31, got {d}");
            shape[i++] = v;
        }
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw Error(file, name, "missing field 'data_offsets' = [begin, end]");
        long begin = ReadOffset(off[0], name, file), end = ReadOffset(off[1], name, file);
        if (end < begin) throw Error(file, name, $"data_offsets [{begin}, {end}] end before they begin");
        if (end > dataLength)
            throw Error(file, name, $"data_offsets [{begin}, {end}] run past the data section ({dataLength} bytes); the file may be truncated");
        var info = new SafetensorsTensorInfo(name, dtype, shape, begin, end);
        long expected;
        try { expected = checked(info.Numel * dtype.SizeOf()); }
        catch (OverflowException) { throw Error(file, name, $"shape [{string.Join(", ", shape)}] is too large"); }
        if (info.ByteLength != expected)
            throw Error(file, name, $"data_offsets [{begin}, {end}] hold {info.ByteLength} bytes but {dtName} shape [{string.Join(", ", shape)}] needs {expected}");
        return info;
    }

    private static long ReadOffset(JsonElement v, string name, string file)
    {
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long x) || x < 0)
            throw Error(file, name, $"data_offsets must be non-negative integers, got {v}");
        return x;
    }

    private static void CheckCoverage(List<SafetensorsTensorInfo> tensors, long dataLength, string file)
    {
        // Order by position, then the entries must tile [0, dataLength) exactly.
        tensors.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long pos = 0;
        foreach (var t in tensors)
        {
            if (t.Begin < pos) throw Error(file, t.Name, $"data_offsets [{t.Begin}, {t.End}] overlap the previous tensor (which ends at {pos})");
            if (t.Begin > pos) throw Error(file, t.Name, $"data_offsets [{t.Begin}, {t.End}] leave a hole: the previous tensor ends at {pos}");
            pos = t.End;
        }
        if (pos != dataLength)
            throw Error(file, null, $"the tensors cover {pos} bytes but the data section holds {dataLength}");
    }

    internal static InvalidDataException Error(string file, string? key, string message) =>
        new(key is null ? $"safetensors file '{file}': {message}" : $"safetensors file '{file}', key '{key}': {message}");
}
