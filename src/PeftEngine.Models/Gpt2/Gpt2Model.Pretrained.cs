using PeftEngine.IO;
using PeftEngine.IO.Safetensors;
using PeftEngine.Quant;

namespace PeftEngine.Models;

public sealed partial class Gpt2Model
{
    private const string BodyPrefix = "transformer.";

    /// <summary>
    /// Loads a GPT-2 checkpoint folder: <c>config.json</c> plus <c>model.safetensors</c> (or a sharded checkpoint
    /// with its index). Tensor names may carry the <c>transformer.</c> prefix (<c>transformer.h.0.ln_1.weight</c>)
    /// or not (<c>h.0.ln_1.weight</c>, as the original GPT-2 uploads store them); the attention mask buffers
    /// <c>attn.bias</c> / <c>attn.masked_bias</c> and the tied <c>lm_head.weight</c> are skipped. Weights are cast to
    /// <paramref name="dtype"/>. GPTQ/AWQ checkpoints are dequantized on load into the Conv1D (in, out) layout
    /// (<see cref="GptqAwqCheckpoint"/>). The model is returned in evaluation mode.
    /// </summary>
    /// <remarks>HF: GPT2LMHeadModel.from_pretrained(path). Errors name the file and tensor: a missing config or
    /// weights file, a tensor the model needs that the file lacks, a tensor of the wrong shape, and tensors the
    /// model has no place for.</remarks>
    public static Gpt2Model FromPretrained(string directory, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Gpt2Model.FromPretrained: folder '{directory}' does not exist");
        string configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath))
            throw new FileNotFoundException($"Gpt2Model.FromPretrained: '{configPath}' not found; a GPT-2 folder needs config.json and model.safetensors", configPath);
        var config = HfConfig.Load(configPath) as Gpt2Config
            ?? throw new InvalidDataException($"Gpt2Model.FromPretrained: '{configPath}' is not a gpt2 config (model_type is '{HfConfig.Load(configPath).ModelType}')");

        string weightsName = File.Exists(Path.Combine(directory, "model.safetensors.index.json"))
            ? Path.Combine(directory, "model.safetensors.index.json")
            : Path.Combine(directory, "model.safetensors");
        using var source = GptqAwqCheckpoint.Wrap(ShardedSafetensors.OpenDirectory(directory), configPath, weightsName, DequantizedLayout.InOut);
        var model = new Gpt2Model(config, dtype);
        try
        {
            LoadWeights(model, source, weightsName, dtype);
            model.Eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static void LoadWeights(Gpt2Model model, ITensorSource source, string file, DType dtype)
    {
        // Which stored key holds each of the model's tensors.
        var used = new HashSet<string>();
        var plan = new List<(string Name, string Key, Shape Shape)>();
        foreach (var (name, p) in model.NamedParameters())
        {
            string bare = name.StartsWith(BodyPrefix, StringComparison.Ordinal) ? name[BodyPrefix.Length..] : name;
            string? key = source.Contains(name) ? name : source.Contains(bare) ? bare : null;
            if (key is null)
                throw new InvalidDataException($"Gpt2Model.FromPretrained: '{file}' has no tensor '{name}' (nor '{bare}'), which the model needs with shape {p.Shape}");
            var stored = new Shape(source.Info(key).Shape);
            if (stored != p.Shape)
                throw new InvalidDataException($"Gpt2Model.FromPretrained: tensor '{key}' in '{file}' has shape {stored}, expected {p.Shape} for '{name}' (config: n_embd {model.Config.HiddenSize}, vocab {model.Config.VocabSize}, n_positions {model.Config.MaxPositionEmbeddings}, n_inner {model.Config.IntermediateSize})");
            used.Add(key);
            plan.Add((name, key, p.Shape));
        }
        var unexpected = source.Keys.Where(k => !used.Contains(k) && !IsSkippable(k)).ToList();
        if (unexpected.Count > 0)
            throw new InvalidDataException($"Gpt2Model.FromPretrained: '{file}' has tensors the model has no place for: {string.Join(", ", unexpected.Take(10).Select(k => $"'{k}'"))}{(unexpected.Count > 10 ? $" and {unexpected.Count - 10} more" : "")}");

        var parameters = model.NamedParameters().ToDictionary(np => np.Name, np => np.Parameter);
        using (GradMode.Disable())
            foreach (var (name, key, _) in plan)
            {
                using var loaded = source.Load(key, dtype);
                Ops.CopyInPlace(parameters[name].Data, loaded);
            }
    }

    private static bool IsSkippable(string key) =>
        key.EndsWith(".attn.bias", StringComparison.Ordinal) || key.EndsWith(".attn.masked_bias", StringComparison.Ordinal)
        || key == "lm_head.weight";
}
