using PeftEngine.IO;
using PeftEngine.IO.Safetensors;
using PeftEngine.Quant;

namespace PeftEngine.Models;

public sealed partial class LlamaModel
{
    /// <summary>
    /// Loads a LLaMA, Mistral or Qwen2 checkpoint folder: <c>config.json</c> plus <c>model.safetensors</c> or a
    /// sharded checkpoint (<c>model.safetensors.index.json</c>). Tensors keep HF's names
    /// (<c>model.layers.0.self_attn.q_proj.weight</c>); BF16/F16/F32 weights are converted to
    /// <paramref name="dtype"/>. A stored <c>lm_head.weight</c> of a tied model and old <c>rotary_emb.inv_freq</c>
    /// buffers are ignored. GPTQ and AWQ checkpoints (config.json quantization_config.quant_method "gptq" / "awq")
    /// are dequantized on load (<see cref="GptqAwqCheckpoint"/>). The model is returned in evaluation mode.
    /// </summary>
    /// <remarks>HF: AutoModelForCausalLM.from_pretrained(path, torch_dtype=dtype). Errors name the file and key:
    /// a missing config or weights file, a config of another architecture, a missing tensor, a tensor of the
    /// wrong shape, and tensors the model has no place for.</remarks>
    public static LlamaModel FromPretrained(string directory, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"LlamaModel.FromPretrained: folder '{directory}' does not exist");
        string configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath))
            throw new FileNotFoundException($"LlamaModel.FromPretrained: '{configPath}' not found; a model folder needs config.json and model.safetensors", configPath);
        var loaded = HfConfig.Load(configPath);
        var config = loaded as RopeDecoderConfig
            ?? throw new InvalidDataException($"LlamaModel.FromPretrained: '{configPath}' has model_type '{loaded.ModelType}', expected llama, mistral or qwen2");

        string file = File.Exists(Path.Combine(directory, ShardedSafetensors.IndexFileName))
            ? Path.Combine(directory, ShardedSafetensors.IndexFileName)
            : Path.Combine(directory, "model.safetensors");
        using var source = GptqAwqCheckpoint.Wrap(ShardedSafetensors.OpenDirectory(directory), configPath, file);
        LlamaModel model;
        try { model = new LlamaModel(config, dtype); }
        catch (ArgumentException e) { throw new InvalidDataException($"LlamaModel.FromPretrained: '{configPath}' describes a model that cannot be built: {e.Message}", e); }
        try
        {
            WeightLoader.Load(model, new SafetensorsWeights(source), "LlamaModel.FromPretrained", file,
                key => key.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal) || (config.TieWordEmbeddings && key == "lm_head.weight")
                    || (source is GptqAwqCheckpoint packed && packed.IsZeroBias(key)),
                dtype);
            model.Eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Safetensors tensors under the model's own (HF) names.</summary>
    private sealed class SafetensorsWeights(ITensorSource source) : IWeightSource
    {
        public IEnumerable<string> Keys => source.Keys;
        public string? KeyFor(string parameterName) => source.Contains(parameterName) ? parameterName : null;
        public Shape ShapeOf(string key) => new(source.Info(key).Shape);
        public Tensor Load(string key, DType dtype) => source.Load(key, dtype);
    }
}
