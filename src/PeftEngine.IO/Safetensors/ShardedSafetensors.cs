using System.Text.Json;

namespace PeftEngine.IO.Safetensors;

/// <summary>
/// A checkpoint split over several safetensors files, described by an index such as
/// <c>model.safetensors.index.json</c>: <c>{"metadata": {"total_size": ...}, "weight_map": {tensor: shard file}}</c>.
/// </summary>
/// <remarks>
/// HF transformers: <c>load_sharded_checkpoint</c> / <c>from_pretrained</c> with an index file. All shards are
/// opened (headers only) and cross-checked on open: every shard must exist and hold the tensors mapped to it.
/// </remarks>
public sealed class ShardedSafetensors : ITensorSource
{
    /// <summary>The index file name transformers writes for sharded safetensors checkpoints.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly Dictionary<string, SafetensorsFile> _shards;
    private readonly Dictionary<string, string> _weightMap;

    private ShardedSafetensors(string indexPath, Dictionary<string, string> weightMap, Dictionary<string, SafetensorsFile> shards,
        Dictionary<string, string> metadata)
    {
        IndexPath = indexPath;
        _weightMap = weightMap;
        _shards = shards;
        Metadata = metadata;
    }

    /// <summary>The index file's path.</summary>
    public string IndexPath { get; }

    /// <summary>The index's <c>metadata</c> object, values as text (e.g. "total_size").</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensor name to shard file name, as listed in the index.</summary>
    public IReadOnlyDictionary<string, string> WeightMap => _weightMap;

    /// <inheritdoc/>
    public IEnumerable<string> Keys => _weightMap.Keys;

    /// <inheritdoc/>
    public bool Contains(string name) => _weightMap.ContainsKey(name);

    /// <summary>Opens a single <c>model.safetensors</c> or a sharded checkpoint (via its index) in a folder.</summary>
    public static ITensorSource OpenDirectory(string directory, string baseName = "model")
    {
        string index = Path.Combine(directory, $"{baseName}.safetensors.index.json");
        if (File.Exists(index)) return Open(index);
        string single = Path.Combine(directory, $"{baseName}.safetensors");
        if (File.Exists(single)) return SafetensorsFile.Open(single);
        throw new FileNotFoundException($"folder '{directory}' has neither '{baseName}.safetensors' nor '{baseName}.safetensors.index.json'");
    }

    /// <summary>Opens the index at <paramref name="indexPath"/> and every shard it names (shards are resolved
    /// relative to the index's folder).</summary>
    public static ShardedSafetensors Open(string indexPath)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(indexPath)); }
        catch (JsonException e) { throw new InvalidDataException($"safetensors index '{indexPath}': not valid JSON ({e.Message})", e); }
        var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("weight_map", out var wm) || wm.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"safetensors index '{indexPath}': missing object 'weight_map'");
            foreach (var p in wm.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                    throw new InvalidDataException($"safetensors index '{indexPath}', key '{p.Name}': the shard must be a file name string");
                if (!weightMap.TryAdd(p.Name, p.Value.GetString()!))
                    throw new InvalidDataException($"safetensors index '{indexPath}', key '{p.Name}': listed twice in weight_map");
            }
            if (root.TryGetProperty("metadata", out var md) && md.ValueKind == JsonValueKind.Object)
                foreach (var p in md.EnumerateObject())
                    metadata[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
        }
        string dir = Path.GetDirectoryName(Path.GetFullPath(indexPath)) ?? ".";
        var shards = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (string shard in weightMap.Values.Distinct())
            {
                string p = Path.Combine(dir, shard);
                if (!File.Exists(p)) throw new FileNotFoundException($"safetensors index '{indexPath}' names shard '{shard}', which does not exist", p);
                shards[shard] = SafetensorsFile.Open(p);
            }
            foreach (var (name, shard) in weightMap)
                if (!shards[shard].Contains(name))
                    throw new InvalidDataException($"safetensors index '{indexPath}', key '{name}': shard '{shard}' has no such tensor");
        }
        catch
        {
            foreach (var f in shards.Values) f.Dispose();
            throw;
        }
        return new ShardedSafetensors(indexPath, weightMap, shards, metadata);
    }

    /// <summary>The shard holding <paramref name="name"/>.</summary>
    public SafetensorsFile ShardOf(string name) =>
        _weightMap.TryGetValue(name, out var shard) ? _shards[shard]
            : throw new KeyNotFoundException($"sharded checkpoint '{IndexPath}' has no tensor '{name}'");

    /// <inheritdoc/>
    public SafetensorsTensorInfo Info(string name) => ShardOf(name).Info(name);

    /// <inheritdoc/>
    public Tensor Load(string name, DType? convertTo = null) => ShardOf(name).Load(name, convertTo);

    /// <summary>Closes every shard.</summary>
    public void Dispose()
    {
        foreach (var f in _shards.Values) f.Dispose();
    }
}
