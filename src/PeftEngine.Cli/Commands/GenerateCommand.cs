using System.ComponentModel;
using PeftEngine.Models;
using PeftEngine.Models.Generation;
using Spectre.Console.Cli;

namespace PeftEngine.Cli;

/// <summary>
/// <c>peft generate</c>: encodes the prompt with the model's tokenizer (tokenizer.json in the folder, or the one stored
/// in a GGUF file), generates with the key/value cache and streams the text. Greedy unless a temperature above 0, a
/// top-k or a top-p is given.
/// </summary>
/// <remarks>HF equivalent: <c>model.generate(**tok(prompt, return_tensors="pt"), max_new_tokens=N, do_sample=...,
/// temperature=T, top_k=K, top_p=P, repetition_penalty=R)</c> with a TextStreamer.</remarks>
public sealed class GenerateCommand : Command<GenerateCommand.Settings>
{
    /// <summary>Sampling options shared by <c>peft generate</c> and <c>peft chat</c>.</summary>
    public class SamplingSettings : CommandSettings
    {
        [CommandOption("--model <MODEL>"), Description("A shipped name, a Hugging Face folder or a GGUF file (default: tiny-llama)")]
        public string Model { get; init; } = ModelResolver.DefaultModel;

        [CommandOption("--adapter <DIR>"), Description("An HF PEFT adapter folder to run on top of the model (default: none)")]
        public string? Adapter { get; init; }

        [CommandOption("--max-new-tokens <N>"), Description("Most tokens to generate (default: 32; chat: 128)")]
        public int? MaxNewTokens { get; init; }

        [CommandOption("--temperature <T>"), Description("Sampling temperature; giving it (above 0) turns sampling on (default: 1, greedy)")]
        public double? Temperature { get; init; }

        [CommandOption("--top-k <K>"), Description("Sample among the K most likely tokens; turns sampling on (default: 50 when sampling, else off)")]
        public int? TopK { get; init; }

        [CommandOption("--top-p <P>"), Description("Sample from the smallest set of tokens whose probability reaches P; turns sampling on (default: 1, off)")]
        public double? TopP { get; init; }

        [CommandOption("--repetition-penalty <R>"), Description("Divide the logits of tokens already present by R (default: 1, off)")]
        public double RepetitionPenalty { get; init; } = 1.0;

        [CommandOption("--seed <SEED>"), Description("Seed of sampling (default: 0)")]
        public ulong Seed { get; init; }

        [CommandOption("--device <DEVICE>"), Description(DeviceOption.Help)]
        public string? Device { get; init; }

        /// <summary>Moves the loaded model (base and adapter) to --device; the prompt ids follow it in generation.</summary>
        internal void MoveToDevice(LoadedLanguageModel loaded)
        {
            var device = DeviceOption.Open(Device);
            if (!device.IsHost) loaded.Model.Module.To(device);
        }

        /// <summary>The generation settings these options describe.</summary>
        internal GenerationConfig ToConfig(IReadOnlyList<long> stop, int defaultMaxNewTokens)
        {
            double temperature = Temperature ?? 1.0;
            bool sample = (Temperature is not null && temperature > 0) || TopK is not null || TopP is not null;
            int maxNew = MaxNewTokens ?? defaultMaxNewTokens;
            if (maxNew < 0) throw new ArgumentException($"--max-new-tokens must not be negative, got {maxNew}");
            var config = new GenerationConfig
            {
                MaxNewTokens = maxNew,
                DoSample = sample,
                Temperature = sample ? temperature : 1.0,
                TopK = TopK ?? (sample ? 50 : 0),
                TopP = TopP ?? 1.0,
                RepetitionPenalty = RepetitionPenalty,
                StopTokenIds = stop.ToList(),
                Seed = Seed,
            };
            config.Validate();
            return config;
        }
    }

    /// <summary>Options of <c>peft generate</c>.</summary>
    public sealed class Settings : SamplingSettings
    {
        [CommandOption("--prompt <TEXT>"), Description("The text to continue (required)")]
        public string? Prompt { get; init; }
    }

    /// <inheritdoc/>
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        string prompt = settings.Prompt ?? throw new ArgumentException("--prompt is required");
        using var loaded = LoadedLanguageModel.Load(settings.Model, settings.Adapter);
        settings.MoveToDevice(loaded);
        var config = settings.ToConfig(loaded.StopTokenIds, defaultMaxNewTokens: 32);
        var promptIds = loaded.Tokenizer.Encode(prompt).Select(i => (long)i).ToArray();
        if (promptIds.Length == 0) throw new ArgumentException("--prompt encodes to no tokens");
        Console.Write(prompt);
        var result = Stream(loaded, promptIds, config, Console.Write);
        Console.WriteLine();
        Console.Error.WriteLine($"{promptIds.Length} prompt tokens, {result.NewTokens[0]} new ({(result.Stopped[0] ? "stop token" : "limit")}); {(config.DoSample ? $"sampling, seed {config.Seed}" : "greedy")}");
        return 0;
    }

    /// <summary>Generates after <paramref name="promptIds"/> and hands each new piece of decoded text to
    /// <paramref name="write"/> as soon as it is complete (special tokens skipped).</summary>
    internal static GenerationResult Stream(LoadedLanguageModel loaded, long[] promptIds, GenerationConfig config, Action<string> write)
    {
        var generated = new List<int>();
        string shown = "";
        using var ids = Tensor.FromArray(promptIds, 1, promptIds.Length);
        return TextGeneration.Generate(loaded.Model, ids, config, onToken: (_, tokens) =>
        {
            generated.Add((int)tokens[0]);
            string text = loaded.Tokenizer.Decode(generated, skipSpecialTokens: true);
            if (text.StartsWith(shown, StringComparison.Ordinal)) write(text[shown.Length..]);
            shown = text;
        });
    }
}
