using PeftEngine.IO;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;
using PeftEngine.Models.Training;

namespace PeftEngine.Tests;

/// <summary>A randomly initialised one-layer LLaMA in an HF folder with the shipped tiny-llama tokenizer and a few
/// question-answering records, shared by the command tests (made once per test run).</summary>
public sealed class TinyModelFolder : IDisposable
{
    public TinyModelFolder()
    {
        Root = Path.Combine(Path.GetTempPath(), "peft-cli-" + Guid.NewGuid().ToString("N"));
        ModelDir = Path.Combine(Root, "tiny");
        string shipped = FindShipped();
        string tokenizerPath = Path.Combine(shipped, "tokenizer.json");
        var tokenizer = TokenizerJsonLoader.Load(tokenizerPath);
        const string config = """
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 4096, "hidden_size": 32,
             "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
             "max_position_embeddings": 256, "rms_norm_eps": 1e-05, "tie_word_embeddings": true,
             "bos_token_id": 0, "eos_token_id": 0, "pad_token_id": 1}
            """;
        var model = new LlamaModel((RopeDecoderConfig)HfConfig.Parse(config), generator: new Generator(3));
        HfModelFolder.Save(ModelDir, model, config, tokenizerPath, tokenizer);
        model.Dispose();
        Directory.CreateDirectory(Path.Combine(ModelDir, "data"));
        foreach (var split in new[] { "qa-train.jsonl", "qa-valid.jsonl" })
            File.WriteAllLines(Path.Combine(ModelDir, "data", split), File.ReadLines(Path.Combine(shipped, "data", split)).Take(24));
    }

    /// <summary>A temporary folder removed at the end.</summary>
    public string Root { get; }

    /// <summary>The model folder (config.json, model.safetensors, tokenizer.json, data/).</summary>
    public string ModelDir { get; }

    /// <summary>The shipped models/tiny-llama folder of the repository.</summary>
    public static string FindShipped()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "models", "tiny-llama");
            if (File.Exists(Path.Combine(candidate, "tokenizer.json"))) return candidate;
        }
        throw new DirectoryNotFoundException("models/tiny-llama with tokenizer.json was not found above the test folder");
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
    }
}
