using PeftEngine.IO.Gguf;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;
using PeftEngine.Peft;

namespace PeftEngine.Cli;

/// <summary>
/// A causal language model loaded for a command: the base (shipped name, HF folder or GGUF file), an optional HF PEFT
/// adapter on top, the tokenizer, and the token ids that end a generation. Disposing frees the model.
/// </summary>
public sealed class LoadedLanguageModel : IDisposable
{
    private readonly ICausalLanguageModel _base;
    private readonly PeftModel? _peft;

    private LoadedLanguageModel(string path, ICausalLanguageModel baseModel, PeftModel? peft, ITokenizer tokenizer)
    {
        Path = path;
        _base = baseModel;
        _peft = peft;
        Tokenizer = tokenizer;
        var stop = new List<long>();
        if (tokenizer.EosTokenId is int eos) stop.Add(eos);
        // every eos_token_id of the model's config ends a generation too (Llama 3 lists several)
        var configEos = baseModel switch { LlamaModel l => l.Config.EosTokenIds, Gpt2Model g => g.Config.EosTokenIds, _ => [] };
        stop.AddRange(configEos.Select(i => (long)i).Where(i => !stop.Contains(i)));
        StopTokenIds = stop;
    }

    /// <summary>Where the base model was found.</summary>
    public string Path { get; }

    /// <summary>The model to run: the adapted one when an adapter was given, else the base.</summary>
    public ICausalLanguageModel Model => _peft is null ? _base : _peft;

    /// <summary>The model's tokenizer.</summary>
    public ITokenizer Tokenizer { get; }

    /// <summary>Token ids that end a generation.</summary>
    public IReadOnlyList<long> StopTokenIds { get; }

    /// <summary>Loads <paramref name="model"/> and, when given, the adapter folder on top of it (an AdapterFusion folder
    /// brings its fused adapters along, see <see cref="AdapterFolders"/>).</summary>
    /// <remarks>HF: AutoModelForCausalLM.from_pretrained + PeftModel.from_pretrained(base, adapter).</remarks>
    public static LoadedLanguageModel Load(string model, string? adapter = null)
    {
        string path = ModelResolver.Locate(model);
        var tokenizer = LoadTokenizer(path);
        var baseModel = AutoModel.FromPretrained(path);
        try
        {
            var peft = adapter is null ? null : AdapterFolders.Load(baseModel.Module, adapter);   // a plain or a fusion folder
            return new LoadedLanguageModel(path, baseModel, peft, tokenizer);
        }
        catch
        {
            baseModel.Module.Dispose();
            throw;
        }
    }

    /// <summary>tokenizer.json beside the model, else the tokenizer stored in a GGUF file.</summary>
    public static ITokenizer LoadTokenizer(string model)
    {
        string dir = Directory.Exists(model) ? model : System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(model)) ?? ".";
        string json = System.IO.Path.Combine(dir, "tokenizer.json");
        if (File.Exists(json)) return TokenizerJsonLoader.Load(json);
        if (File.Exists(model))
        {
            using var gguf = GgufFile.Open(model);
            return GgufTokenizerFactory.Create(gguf.Metadata);
        }
        throw new ArgumentException($"no tokenizer found: '{json}' does not exist (the model folder needs its tokenizer.json)");
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _peft?.Dispose();
        _base.Module.Dispose();
    }
}
