using PeftEngine.IO;
using PeftEngine.IO.Gguf;

namespace PeftEngine.Models;

/// <summary>Loads a causal language model without naming its class: the architecture comes from the folder's
/// <c>config.json</c> (<c>model_type</c>) or the GGUF file's <c>general.architecture</c>.</summary>
/// <remarks>HF: transformers.AutoModelForCausalLM.from_pretrained(path[, gguf_file]).</remarks>
public static class AutoModel
{
    /// <summary>The config.json model types that load as causal LMs.</summary>
    public static readonly IReadOnlyList<string> CausalModelTypes = ["gpt2", "llama", "mistral", "qwen2"];

    /// <summary>
    /// Loads <paramref name="path"/>: a folder with config.json and safetensors weights (gpt2 -> <see cref="Gpt2Model"/>;
    /// llama, mistral, qwen2 -> <see cref="LlamaModel"/>), or a <c>.gguf</c> file (llama, mistral, qwen2). Weights are
    /// converted to <paramref name="dtype"/>; the model is in evaluation mode.
    /// </summary>
    public static ICausalLanguageModel FromPretrained(string path, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (File.Exists(path)) return FromGguf(path, dtype);
        if (!Directory.Exists(path))
            throw new FileNotFoundException($"AutoModel: '{path}' is neither a model folder nor a GGUF file", path);
        string configPath = Path.Combine(path, "config.json");
        if (!File.Exists(configPath))
        {
            var ggufs = Directory.GetFiles(path, "*.gguf");
            if (ggufs.Length == 1) return FromGguf(ggufs[0], dtype);
            throw new FileNotFoundException($"AutoModel: '{configPath}' not found (a model folder needs config.json and model.safetensors, or exactly one .gguf file)", configPath);
        }
        var config = HfConfig.Load(configPath);
        return config.ModelType switch
        {
            "gpt2" => Gpt2Model.FromPretrained(path, dtype),
            "llama" or "mistral" or "qwen2" => LlamaModel.FromPretrained(path, dtype),
            _ => throw new InvalidDataException($"AutoModel: '{configPath}' has model_type '{config.ModelType}', which is not a causal language model here (expected one of {string.Join(", ", CausalModelTypes)})"),
        };
    }

    private static ICausalLanguageModel FromGguf(string file, DType dtype)
    {
        string arch;
        using (var gguf = GgufFile.Open(file))
        {
            if (!gguf.Has("general.architecture"))
                throw new InvalidDataException($"AutoModel: GGUF file '{file}' has no 'general.architecture' metadata");
            arch = gguf.Architecture;
        }
        if (!LlamaModel.GgufArchitectures.Contains(arch))
            throw new InvalidDataException($"AutoModel: GGUF file '{file}' has general.architecture '{arch}'; supported: {string.Join(", ", LlamaModel.GgufArchitectures)}");
        return LlamaModel.FromGguf(file, dtype);
    }
}
