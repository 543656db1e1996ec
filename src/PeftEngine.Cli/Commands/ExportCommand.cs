using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Nodes;
using PeftEngine.Cli.Export;
using PeftEngine.IO;
using PeftEngine.IO.Gguf;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;
using PeftEngine.Models.Training;
using PeftEngine.Peft;
using Spectre.Console;
using Spectre.Console.Cli;

namespace PeftEngine.Cli;

/// <summary>
/// <c>peft export</c>: writes a model as a plain Hugging Face folder (config.json, model.safetensors in F32, BF16 or
/// F16, tokenizer.json, generation_config.json). The source is a GGUF file (config and tokenizer are rebuilt from its
/// metadata, quantized blocks are expanded) or a model folder; with <c>--adapter</c> the adapter is merged in first.
/// </summary>
/// <remarks>HF: AutoModelForCausalLM.from_pretrained(dir, gguf_file=...) (+ PeftModel.from_pretrained(...)
/// .merge_and_unload()) then save_pretrained(out) with torch_dtype.</remarks>
public sealed class ExportCommand : Command<ExportCommand.Settings>
{
    /// <summary>Options of <c>peft export</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <MODEL>"), Description("Source: a GGUF file, a Hugging Face folder or a shipped name (required)")]
        public string? Model { get; init; }

        [CommandOption("--adapter <DIR>"), Description("An HF PEFT adapter folder to merge into the weights first (default: none)")]
        public string? Adapter { get; init; }

        [CommandOption("-o|--out <DIR>"), Description("Folder to write (required)")]
        public string? Out { get; init; }

        [CommandOption("--dtype <DTYPE>"), Description("Weight dtype of model.safetensors: f32, bf16 or f16 (default: f32)")]
        public string Dtype { get; init; } = "f32";
    }

    /// <inheritdoc/>
    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken) => Run(s);

    /// <summary>Runs the export (also <c>peft convert</c> of a GGUF file).</summary>
    internal static int Run(Settings s)
    {
        string source = ModelResolver.Locate(s.Model ?? throw new ArgumentException("--model is required (a GGUF file or a model folder)"));
        string output = s.Out ?? throw new ArgumentException("--out is required");
        var dtype = s.Dtype.ToLowerInvariant() switch
        {
            "f32" or "float32" => DType.F32,
            "bf16" or "bfloat16" => DType.BF16,
            "f16" or "float16" => DType.F16,
            _ => throw new ArgumentException($"--dtype must be f32, bf16 or f16, got '{s.Dtype}'"),
        };
        if (Path.GetFullPath(output) == Path.GetFullPath(source)) throw new ArgumentException("--out must differ from the source model");
        bool gguf = File.Exists(source);
        string configJson, tokenizerPath;
        string? chatTemplate = null, temporary = null;
        ICausalLanguageModel model;
        ITokenizer tokenizer;
        if (gguf)
        {
            if (!source.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)) throw new ArgumentException($"'{source}' is a file but not a .gguf");
            GgufTokenizerData data;
            bool addSpacePrefix;
            using (var file = GgufFile.Open(source))
            {
                if (file.Contains("rope_freqs.weight"))
                    throw new NotSupportedException($"export: '{source}' scales its rotary frequencies with rope_freqs (llama3 scaling), which config.json cannot express from the factors alone");
                data = GgufTokenizerData.FromGguf(file);
                addSpacePrefix = !file.Has("tokenizer.ggml.add_space_prefix") || file.GetBool("tokenizer.ggml.add_space_prefix");
            }
            var llama = LlamaModel.FromGguf(source);
            model = llama;
            configJson = GgufToHf.ConfigJson(llama.Config);
            temporary = Path.Combine(Path.GetTempPath(), $"peft-export-{Guid.NewGuid():N}.json");
            File.WriteAllText(temporary, GgufToHf.TokenizerJson(data, addSpacePrefix));
            tokenizerPath = temporary;
            tokenizer = TokenizerJsonLoader.Load(tokenizerPath);
            chatTemplate = data.ChatTemplate;
            AnsiConsole.MarkupLine(Markup.Escape($"read {source}: {llama.Config.ModelType}, {llama.NumParameters():N0} parameters, {GgufToHf.Describe(data)}"));
        }
        else
        {
            model = AutoModel.FromPretrained(source);
            configJson = File.ReadAllText(Path.Combine(source, "config.json"));
            tokenizerPath = Path.Combine(source, "tokenizer.json");
            if (!File.Exists(tokenizerPath)) throw new ArgumentException($"model folder '{source}' has no tokenizer.json");
            tokenizer = TokenizerJsonLoader.Load(tokenizerPath);
            string tokenizerConfig = Path.Combine(source, "tokenizer_config.json");
            if (File.Exists(tokenizerConfig) && JsonNode.Parse(File.ReadAllText(tokenizerConfig))?["chat_template"] is JsonValue t) chatTemplate = t.GetValue<string>();
        }
        try
        {
            if (s.Adapter is { } adapter)
            {
                using var peft = PeftModel.FromPretrained(model.Module, adapter);
                using var merged = peft.MergeAndUnload();
                HfModelFolder.Save(output, (ICausalLanguageModel)merged, configJson, tokenizerPath, tokenizer, dtype);
            }
            else
            {
                HfModelFolder.Save(output, model, configJson, tokenizerPath, tokenizer, dtype);
            }
            if (chatTemplate is not null)
                TrainingArtifactsText(Path.Combine(output, "tokenizer_config.json"),
                    new JsonObject { ["chat_template"] = chatTemplate }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        }
        finally
        {
            model.Module.Dispose();
            if (temporary is not null) File.Delete(temporary);
        }
        long bytes = new FileInfo(Path.Combine(output, "model.safetensors")).Length;
        AnsiConsole.MarkupLine(Markup.Escape($"wrote {Path.GetFullPath(output)}: config.json, model.safetensors ({dtype.Name()}, {bytes:N0} bytes), tokenizer.json, generation_config.json" +
            (s.Adapter is null ? "" : $"; adapter {s.Adapter} merged")));
        return 0;
    }

    private static void TrainingArtifactsText(string path, string text) => Train.TrainingArtifacts.WriteText(path, text);
}
