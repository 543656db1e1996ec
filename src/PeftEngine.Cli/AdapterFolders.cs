using PeftEngine.Nn;
using PeftEngine.Peft;
using PeftEngine.Peft.Adapters;
using PeftEngine.Peft.Serialization;

namespace PeftEngine.Cli;

/// <summary>
/// Adapter folders as the commands read and write them. A plain folder holds one adapter (adapter_config.json and
/// adapter_model.safetensors). An AdapterFusion folder holds the fusion at its root (peft_type ADAPTER_FUSION, saved
/// as the adapter "default") and each fused adapter in a subfolder named as the fusion's config lists it: the layout
/// <see cref="PeftModel.SavePretrained"/> writes for a model that holds the fusion and its adapters.
/// </summary>
/// <remarks>AdapterHub: <c>model.save_adapter_fusion(dir, fusion)</c> beside <c>save_adapter(dir/name, name)</c>;
/// HF PEFT: the subfolder-per-adapter layout of a multi-adapter <c>save_pretrained</c>.</remarks>
public static class AdapterFolders
{
    /// <summary>Wraps <paramref name="model"/> with the adapter saved in <paramref name="directory"/>: a plain adapter,
    /// or a fusion with its fused adapters (frozen, from the subfolders), the fusion active.</summary>
    /// <remarks>HF: PeftModel.from_pretrained(model, directory).</remarks>
    public static PeftModel Load(Module model, string directory)
    {
        if (PeftModel.LoadConfig(directory) is not AdapterFusionConfig fusion) return PeftModel.FromPretrained(model, directory);
        var parts = fusion.Adapters.Select(name => (Name: name, Directory: Path.Combine(directory, name))).ToList();
        foreach (var (name, dir) in parts)
            if (!File.Exists(Path.Combine(dir, AdapterConfigJson.FileName)))
                throw new ArgumentException($"AdapterFusion folder '{directory}' lacks its fused adapter '{name}' (expected in '{dir}', where `peft train --method adapter_fusion` saves it)");
        var peft = LoadAll(model, parts);
        try { peft.LoadAdapter(directory, "default"); }
        catch
        {
            peft.Unload();
            throw;
        }
        peft.SetAdapter("default");
        return peft;
    }

    /// <summary><paramref name="model"/> wrapped with the adapter of each folder, frozen, under its name (the first
    /// one active). On error the model is handed back unchanged.</summary>
    public static PeftModel LoadAll(Module model, IReadOnlyList<(string Name, string Directory)> folders)
    {
        var peft = PeftModel.FromPretrained(model, folders[0].Directory, folders[0].Name);
        try
        {
            foreach (var (name, dir) in folders.Skip(1)) peft.LoadAdapter(dir, name);
        }
        catch
        {
            peft.Unload();
            throw;
        }
        return peft;
    }

    /// <summary>The folders named by <c>--fuse</c> (comma-separated, at least two, each a series bottleneck adapter)
    /// with the adapter name each gets in the fusion: the folder's name (its parent's for a run's <c>adapter</c>
    /// folder, e.g. runs/qa-houlsby/adapter -> qa-houlsby), made unique.</summary>
    public static List<(string Name, string Directory)> FusedFolders(string fuse)
    {
        var dirs = fuse.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (dirs.Length < 2) throw new ArgumentException($"--fuse needs at least two adapter folders, got '{fuse}'");
        var result = new List<(string Name, string Directory)>();
        foreach (var dir in dirs)
        {
            if (!Directory.Exists(dir)) throw new ArgumentException($"--fuse: adapter folder '{dir}' does not exist");
            var config = PeftModel.LoadConfig(dir);
            if (config is not BottleneckConfig { UseParallelAdapter: false })
                throw new ArgumentException($"--fuse: '{dir}' holds a {(config is BottleneckConfig ? "parallel bottleneck" : config.PeftType)} adapter; " +
                    "AdapterFusion fuses series bottleneck adapters (trained with --method houlsby)");
            result.Add((UniqueName(dir, result.Select(r => r.Name)), Path.GetFullPath(dir)));
        }
        return result;
    }

    private static string UniqueName(string dir, IEnumerable<string> taken)
    {
        string full = Path.GetFullPath(dir).TrimEnd('/', '\\');
        string name = Path.GetFileName(full);
        if (name == "adapter") name = Path.GetFileName(Path.GetDirectoryName(full)) ?? name;
        name = name.Replace('.', '_');
        if (name.Length == 0 || name == "default") name = "adapter";
        var used = taken.ToHashSet(StringComparer.Ordinal);
        string unique = name;
        for (int i = 2; used.Contains(unique); i++) unique = $"{name}_{i}";
        return unique;
    }
}
