using System.ComponentModel;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;
using PeftEngine.Models.Training;
using PeftEngine.Peft;
using Spectre.Console;
using Spectre.Console.Cli;

namespace PeftEngine.Cli;

/// <summary><c>peft merge</c>: folds an adapter into its base model and writes a plain Hugging Face model folder.</summary>
/// <remarks>HF: PeftModel.from_pretrained(base, adapter).merge_and_unload().save_pretrained(out).</remarks>
public sealed class MergeCommand : Command<MergeCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <MODEL>"), Description("Base model: a shipped name, a Hugging Face folder or a GGUF file (default: tiny-llama)")]
        public string Model { get; init; } = ModelResolver.DefaultModel;

        [CommandOption("--adapter <DIR>"), Description("Adapter folder in the HF PEFT format (adapter_config.json + adapter_model.safetensors) (required)")]
        public string? Adapter { get; init; }

        [CommandOption("-o|--out <DIR>"), Description("Folder for the merged model (config.json, model.safetensors, tokenizer.json) (required)")]
        public string? Out { get; init; }

        [CommandOption("--dtype <DTYPE>"), Description("Weight dtype of the merged file: f32, bf16 or f16 (default: f32)")]
        public string Dtype { get; init; } = "f32";

        [CommandOption("--safe"), Description("Check the merged weights for NaN/Inf before writing (safe_merge)")]
        public bool Safe { get; init; }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        string adapter = s.Adapter ?? throw new ArgumentException("--adapter is required");
        string output = s.Out ?? throw new ArgumentException("--out is required");
        var dtype = s.Dtype.ToLowerInvariant() switch
        {
            "f32" or "float32" => DType.F32,
            "bf16" or "bfloat16" => DType.BF16,
            "f16" or "float16" => DType.F16,
            _ => throw new ArgumentException($"--dtype must be f32, bf16 or f16, got '{s.Dtype}'"),
        };
        RefuseUnmergeable(adapter);
        string basePath = ModelResolver.Locate(s.Model);
        if (!Directory.Exists(basePath)) throw new ArgumentException("peft merge needs a Hugging Face model folder as --model (GGUF bases are not written back)");
        var (lm, tokenizer) = ModelResolver.LoadCausalLm(basePath);
        using var peft = PeftModel.FromPretrained(lm.Module, adapter);
        var merged = peft.MergeAndUnload(safeMerge: s.Safe);
        HfModelFolder.Save(output, (ICausalLanguageModel)merged, File.ReadAllText(Path.Combine(basePath, "config.json")),
            Path.Combine(basePath, "tokenizer.json"), tokenizer, dtype);
        merged.Dispose();
        AnsiConsole.MarkupLine($"merged [bold]{Markup.Escape(adapter)}[/] into {Markup.Escape(basePath)} -> {Markup.Escape(Path.GetFullPath(output))} ({dtype.Name()})");
        return 0;
    }

    /// <summary>Throws a clear error for an adapter whose method cannot be folded into the base weights (bottleneck
    /// adapters and AdapterFusion add non-linear modules, prompt and prefix tuning add inputs, ReFT edits hidden
    /// states at chosen positions): such an adapter is used with <c>--adapter</c> in eval, generate and chat.</summary>
    internal static void RefuseUnmergeable(string adapter)
    {
        string configPath = Path.Combine(adapter, Peft.Serialization.AdapterConfigJson.FileName);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"--adapter: '{configPath}' not found", configPath);
        var config = Peft.Serialization.AdapterConfigJson.Parse(File.ReadAllText(configPath), configPath);
        if (!Train.TrainMethods.IsMergeable(config.PeftType))
            throw new NotSupportedException($"peft merge: a {config.PeftType} adapter cannot be merged into the base weights " +
                "(only LORA, IA3, LN_TUNING and BITFIT adapters change the base weights linearly); " +
                "use it unmerged with --adapter in peft eval, generate or chat");
    }
}
