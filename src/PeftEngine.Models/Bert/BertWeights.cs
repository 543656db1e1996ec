using PeftEngine.IO;
using PeftEngine.IO.Safetensors;
using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>
/// Shared loading logic of the BERT models: reads <c>config.json</c> and opens the safetensors weights of a
/// folder, and copies stored tensors into a module whose parameters may carry the <c>bert.</c> prefix while the
/// file's keys do not, or the other way round.
/// </summary>
/// <remarks>HF: the key renaming PreTrainedModel.from_pretrained does with base_model_prefix = "bert".
/// Buffers and heads HF checkpoints carry but these models do not use (<c>embeddings.position_ids</c>, the
/// pretraining heads <c>cls.*</c>) are skipped; any other leftover key is an error.</remarks>
internal static class BertWeights
{
    public const string Prefix = "bert.";

    public static (BertConfig Config, string ConfigPath) LoadConfig(string directory, string who)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"{who}: folder '{directory}' does not exist");
        string configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath))
            throw new FileNotFoundException($"{who}: '{configPath}' not found; a BERT folder needs config.json and model.safetensors", configPath);
        var loaded = HfConfig.Load(configPath);
        return loaded is BertConfig bert
            ? (bert, configPath)
            : throw new InvalidDataException($"{who}: '{configPath}' is not a bert config (model_type is '{loaded.ModelType}')");
    }

    public static string WeightsName(string directory) =>
        File.Exists(Path.Combine(directory, "model.safetensors.index.json"))
            ? Path.Combine(directory, "model.safetensors.index.json")
            : Path.Combine(directory, "model.safetensors");

    /// <summary>Copies every parameter of <paramref name="model"/> from <paramref name="source"/>. Parameters whose
    /// name satisfies <paramref name="mayBeMissing"/> keep their initial values when the file lacks them; their
    /// names are returned.</summary>
    public static List<string> Load(Module model, ITensorSource source, string file, DType dtype, string who,
        Func<string, bool> mayBeMissing)
    {
        var used = new HashSet<string>();
        var missing = new List<string>();
        var plan = new List<(Parameter Target, string Key)>();
        foreach (var (name, p) in model.NamedParameters())
        {
            string alternative = name.StartsWith(Prefix, StringComparison.Ordinal) ? name[Prefix.Length..] : Prefix + name;
            string? key = source.Contains(name) ? name : source.Contains(alternative) ? alternative : null;
            if (key is null)
            {
                if (mayBeMissing(name)) { missing.Add(name); continue; }
                throw new InvalidDataException($"{who}: '{file}' has no tensor '{name}' (nor '{alternative}'), which the model needs with shape {p.Shape}");
            }
            var stored = new Shape(source.Info(key).Shape);
            if (stored != p.Shape)
                throw new InvalidDataException($"{who}: tensor '{key}' in '{file}' has shape {stored}, expected {p.Shape} for '{name}'");
            used.Add(key);
            plan.Add((p, key));
        }
        var unexpected = source.Keys.Where(k => !used.Contains(k) && !IsSkippable(k)).ToList();
        if (unexpected.Count > 0)
            throw new InvalidDataException($"{who}: '{file}' has tensors the model has no place for: {string.Join(", ", unexpected.Take(10).Select(k => $"'{k}'"))}{(unexpected.Count > 10 ? $" and {unexpected.Count - 10} more" : "")}");
        using (GradMode.Disable())
            foreach (var (target, key) in plan)
            {
                using var loaded = source.Load(key, dtype);
                Ops.CopyInPlace(target.Data, loaded);
            }
        return missing;
    }

    private static bool IsSkippable(string key)
    {
        string bare = key.StartsWith(Prefix, StringComparison.Ordinal) ? key[Prefix.Length..] : key;
        return bare == "embeddings.position_ids" || key.StartsWith("cls.", StringComparison.Ordinal);
    }
}
