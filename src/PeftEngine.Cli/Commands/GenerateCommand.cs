using System.Globalization;
using PeftEngine.IO.Gguf;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;
using PeftEngine.Models.Generation;

namespace PeftEngine.Cli;

/// <summary>
/// `peft generate --model PATH --prompt TEXT [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P]
/// [--repetition-penalty R] [--seed S]`: encodes the prompt with the model's tokenizer (tokenizer.json in the
/// folder, or the one stored in a GGUF file), generates with the key/value cache and streams the text.
/// Greedy unless a temperature above 0, a top-k or a top-p is given.
/// </summary>
/// <remarks>HF equivalent: <c>model.generate(**tok(prompt, return_tensors="pt"), max_new_tokens=N, do_sample=...,
/// temperature=T, top_k=K, top_p=P, repetition_penalty=R)</c> with a TextStreamer.</remarks>
public static class GenerateCommand
{
    public static int Run(string[] args)
    {
        var options = CommandLine.Options(args, "model", "adapter", "prompt", "max-new-tokens", "temperature", "top-k", "top-p", "repetition-penalty", "seed");
        string model = ModelResolver.Locate(LogitsCommand.Required(options, "model"));
        string prompt = LogitsCommand.Required(options, "prompt");
        double temperature = Number(options, "temperature", 1.0);
        bool sample = (options.ContainsKey("temperature") && temperature > 0) || options.ContainsKey("top-k") || options.ContainsKey("top-p");

        var tokenizer = LoadTokenizer(model);
        var baseModel = AutoModel.FromPretrained(model);
        using var owner = baseModel.Module;
        // With --adapter, the base runs with a saved HF PEFT adapter on top (PeftModel.from_pretrained).
        using var peft = options.TryGetValue("adapter", out var adapter) ? PeftEngine.Peft.PeftModel.FromPretrained(baseModel.Module, adapter) : null;
        ICausalLanguageModel lm = peft is null ? baseModel : peft;
        // stop at the tokenizer's end token and at every eos_token_id of the model's config (Llama 3 lists several)
        var stop = new List<long>();
        if (tokenizer.EosTokenId is int eos) stop.Add(eos);
        var configEos = baseModel switch { LlamaModel l => l.Config.EosTokenIds, Gpt2Model g => g.Config.EosTokenIds, _ => [] };
        stop.AddRange(configEos.Select(i => (long)i).Where(i => !stop.Contains(i)));
        var config = new GenerationConfig
        {
            MaxNewTokens = CommandLine.IntOption(options, "max-new-tokens", 32),
            DoSample = sample,
            Temperature = sample ? temperature : 1.0,
            TopK = CommandLine.IntOption(options, "top-k", sample && !options.ContainsKey("top-k") ? 50 : 0),
            TopP = Number(options, "top-p", 1.0),
            RepetitionPenalty = Number(options, "repetition-penalty", 1.0),
            StopTokenIds = stop,
            Seed = (ulong)CommandLine.IntOption(options, "seed", 0),
        };
        config.Validate();

        var promptIds = tokenizer.Encode(prompt).Select(i => (long)i).ToArray();
        if (promptIds.Length == 0) throw new ArgumentException("--prompt encodes to no tokens");
        Console.Write(prompt);
        var generated = new List<int>();
        string shown = "";
        using var ids = Tensor.FromArray(promptIds, 1, promptIds.Length);
        var result = TextGeneration.Generate(lm, ids, config, onToken: (_, tokens) =>
        {
            generated.Add((int)tokens[0]);
            string text = tokenizer.Decode(generated, skipSpecialTokens: true);
            if (text.StartsWith(shown, StringComparison.Ordinal)) Console.Write(text[shown.Length..]);
            shown = text;
        });
        Console.WriteLine();
        Console.Error.WriteLine($"{promptIds.Length} prompt tokens, {result.NewTokens[0]} new ({(result.Stopped[0] ? "stop token" : "limit")}); {(sample ? $"sampling, seed {config.Seed}" : "greedy")}");
        return 0;
    }

    /// <summary>tokenizer.json beside the model, else the tokenizer stored in a GGUF file.</summary>
    private static ITokenizer LoadTokenizer(string model)
    {
        string dir = Directory.Exists(model) ? model : Path.GetDirectoryName(Path.GetFullPath(model)) ?? ".";
        string json = Path.Combine(dir, "tokenizer.json");
        if (File.Exists(json)) return TokenizerJsonLoader.Load(json);
        if (File.Exists(model))
        {
            using var gguf = GgufFile.Open(model);
            return GgufTokenizerFactory.Create(gguf.Metadata);
        }
        throw new ArgumentException($"no tokenizer found: '{json}' does not exist (generate needs the model's tokenizer.json)");
    }

    private static double Number(Dictionary<string, string> options, string name, double fallback)
    {
        if (!options.TryGetValue(name, out var text)) return fallback;
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v)
            ? v : throw new ArgumentException($"--{name} expects a number, got '{text}'");
    }
}
