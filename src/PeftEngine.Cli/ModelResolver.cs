using PeftEngine.IO;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;

namespace PeftEngine.Cli;

/// <summary>
/// Finds and loads the model a command names: a shipped model by name (a folder under <c>models/</c>), a Hugging Face
/// folder (config.json + model.safetensors + tokenizer.json) or a GGUF file.
/// </summary>
public static class ModelResolver
{
    /// <summary>The model <c>peft train</c> uses when none is given.</summary>
    public const string DefaultModel = "tiny-llama";

    /// <summary>The folder or file <paramref name="model"/> refers to. A bare name is looked up under <c>models/</c> in
    /// the current directory and its parents, then beside the executable.</summary>
    public static string Locate(string model)
    {
        if (File.Exists(model) || Directory.Exists(model)) return Path.GetFullPath(model);
        if (model.IndexOfAny(['/', '\\']) < 0)
            foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
                for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                {
                    string candidate = Path.Combine(dir.FullName, "models", model);
                    if (Directory.Exists(candidate)) return candidate;
                }
        throw new ArgumentException($"model '{model}' was found neither as a path nor as a shipped model under models/");
    }

    /// <summary>A shipped data file of a model folder, e.g. <c>data/qa-train.jsonl</c>.</summary>
    public static string ShippedFile(string modelFolder, string relative)
    {
        string path = Path.Combine(modelFolder, relative);
        if (!File.Exists(path)) throw new ArgumentException($"the model folder '{modelFolder}' has no '{relative}'; pass a data file explicitly");
        return path;
    }

    /// <summary>Loads a causal language model and its tokenizer.</summary>
    public static (ICausalLanguageModel Model, ITokenizer Tokenizer) LoadCausalLm(string model)
    {
        string path = Locate(model);
        if (File.Exists(path))
        {
            if (!path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
                throw new ArgumentException($"'{path}' is a file but not a .gguf; give a GGUF file or a model folder");
            var gguf = LlamaModel.FromGguf(path);
            using var file = IO.Gguf.GgufFile.Open(path);
            return (gguf, GgufTokenizerFactory.Create(file.Metadata));
        }
        string config = Path.Combine(path, "config.json");
        if (!File.Exists(config))
            throw new ArgumentException($"model folder '{path}' has no config.json" +
                (path.EndsWith(DefaultModel, StringComparison.Ordinal) ? "; the shipped model is made with `peft pretrain` (see models/tiny-llama/README.md)" : ""));
        string tokenizer = Path.Combine(path, "tokenizer.json");
        if (!File.Exists(tokenizer)) throw new ArgumentException($"model folder '{path}' has no tokenizer.json");
        ICausalLanguageModel lm = HfConfig.Load(config).ModelType switch
        {
            "gpt2" => Gpt2Model.FromPretrained(path),
            "llama" or "mistral" or "qwen2" => LlamaModel.FromPretrained(path),
            var t => throw new ArgumentException($"model folder '{path}': model_type '{t}' is not a causal language model"),
        };
        return (lm, TokenizerJsonLoader.Load(tokenizer));
    }
}
