using PeftEngine.IO.Safetensors;
using PeftEngine.Nn;
using PeftEngine.Peft.Serialization;

namespace PeftEngine.Peft;

public sealed partial class PeftModel
{
    /// <summary>The weights file name.</summary>
    public const string WeightsFileName = "adapter_model.safetensors";

    /// <summary>
    /// Writes each adapter (default: all) in HF PEFT's layout: <c>default</c> at the root of
    /// <paramref name="directory"/>, every other adapter in a subfolder named after it, each with
    /// <c>adapter_config.json</c> and <c>adapter_model.safetensors</c> (keys without the adapter name, F32,
    /// metadata format=pt). Files are written atomically. <paramref name="peftVersion"/> limits the config keys to
    /// those that PEFT release knows.
    /// </summary>
    /// <remarks>HF: PeftModel.save_pretrained(save_directory, selected_adapters) with safe_serialization=True.</remarks>
    public void SavePretrained(string directory, IReadOnlyList<string>? selectedAdapters = null, Version? peftVersion = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var names = selectedAdapters ?? _configs.Keys.ToList();
        foreach (var n in names)
            if (!_configs.ContainsKey(n)) throw new ArgumentException($"SavePretrained: adapter {n} does not exist");
        foreach (var name in names)
        {
            var config = _configs[name];
            string dir = name == "default" ? directory : Path.Combine(directory, name);
            Directory.CreateDirectory(dir);
            var tensors = _tuners[config.PeftType].SaveStateDict(Model, name, config);
            try
            {
                SafetensorsWriter.Save(Path.Combine(dir, WeightsFileName), tensors, new Dictionary<string, string> { ["format"] = "pt" });
            }
            finally
            {
                foreach (var t in tensors.Values) t.Dispose();
            }
            var text = AdapterConfigJson.Write(config with { InferenceMode = true }, peftVersion);
            string configPath = Path.Combine(dir, AdapterConfigJson.FileName);
            string temp = configPath + ".tmp";
            File.WriteAllText(temp, text);
            File.Move(temp, configPath, overwrite: true);
        }
    }

    /// <summary>Reads the config of an adapter folder.</summary>
    /// <remarks>HF: PeftConfig.from_pretrained(path).</remarks>
    public static PeftConfig LoadConfig(string directory)
    {
        string path = Path.Combine(directory, AdapterConfigJson.FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"PEFT adapter: '{path}' not found", path);
        return AdapterConfigJson.Parse(File.ReadAllText(path), path);
    }

    /// <summary>Wraps <paramref name="model"/> with the adapter saved in <paramref name="directory"/>. On any error
    /// (wrong architecture, shapes, unknown method) the model is handed back unchanged.</summary>
    /// <remarks>HF: PeftModel.from_pretrained(model, model_id, adapter_name, is_trainable).</remarks>
    public static PeftModel FromPretrained(Module model, string directory, string adapterName = "default", bool isTrainable = false)
    {
        var config = LoadConfig(directory) with { InferenceMode = !isTrainable };
        var peft = Create(model, config, adapterName);
        try
        {
            peft.LoadWeights(directory, adapterName, config);
        }
        catch
        {
            peft.Unload();
            throw;
        }
        return peft;
    }

    /// <summary>Loads another saved adapter under <paramref name="adapterName"/> (not activated). On error the
    /// model is unchanged.</summary>
    /// <remarks>HF: PeftModel.load_adapter(model_id, adapter_name, is_trainable).</remarks>
    public void LoadAdapter(string directory, string adapterName, bool isTrainable = false)
    {
        var config = LoadConfig(directory) with { InferenceMode = !isTrainable };
        AddAdapter(adapterName, config);
        try
        {
            LoadWeights(directory, adapterName, config);
        }
        catch
        {
            DeleteAdapter(adapterName);
            throw;
        }
    }

    private void LoadWeights(string directory, string adapterName, PeftConfig config)
    {
        string path = Path.Combine(directory, WeightsFileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"PEFT adapter: '{path}' not found", path);
        using var file = SafetensorsFile.Open(path);
        var targets = _tuners[config.PeftType].LoadTargets(Model, adapterName, config);
        try
        {
            var fileKeys = file.Keys.ToList();
            var unexpected = fileKeys.Where(k => !targets.ContainsKey(k)).ToList();
            var missing = targets.Keys.Where(k => !file.Contains(k)).ToList();
            var errors = new List<string>();
            if (unexpected.Count > 0) errors.Add($"keys the model has no place for (another architecture or other targets?): {string.Join(", ", unexpected.Take(8))}{(unexpected.Count > 8 ? $" and {unexpected.Count - 8} more" : "")}");
            if (missing.Count > 0) errors.Add($"Found missing adapter keys: {string.Join(", ", missing.Take(8))}{(missing.Count > 8 ? $" and {missing.Count - 8} more" : "")}");
            foreach (var k in fileKeys.Where(targets.ContainsKey))
            {
                var shape = new Shape(file.Info(k).Shape);
                if (shape != targets[k].Shape)
                    errors.Add($"size mismatch for {k}: copying a param with shape {shape} from checkpoint, the shape in current model is {targets[k].Shape}");
            }
            if (errors.Count > 0)
                throw new InvalidDataException($"Loading adapter '{path}' as \"{adapterName}\" failed:\n  " + string.Join("\n  ", errors));
            using var _ = GradMode.Disable();
            foreach (var (k, target) in targets)
            {
                using var value = file.Load(k, target.DType);
                Ops.CopyInPlace(target, value);
            }
        }
        finally
        {
            foreach (var t in targets.Values) t.Dispose();
        }
    }
}
