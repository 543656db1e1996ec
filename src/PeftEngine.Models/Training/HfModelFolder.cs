using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using PeftEngine.IO;
using PeftEngine.IO.Safetensors;
using PeftEngine.IO.Tokenizers;

namespace PeftEngine.Models.Training;

/// <summary>
/// Writes a model as a Hugging Face folder: <c>config.json</c>, <c>model.safetensors</c>, <c>tokenizer.json</c>
/// and <c>generation_config.json</c>. Every file is written atomically (temporary file + rename), and
/// config.json last, so a folder whose config.json is new has all its other files new as well.
/// </summary>
/// <remarks>HF: <c>model.save_pretrained(dir)</c> + <c>tokenizer.save_pretrained(dir)</c>. Other files in the folder
/// (a model card, data) are left alone.</remarks>
public static class HfModelFolder
{
    /// <summary>
    /// Saves <paramref name="model"/>'s state dict (cast to <paramref name="dtype"/>), the config text
    /// <paramref name="configJson"/> with <c>torch_dtype</c> and the tokenizer's special ids filled in, a copy of
    /// the tokenizer file and a generation config.
    /// </summary>
    public static void Save(string directory, ICausalLanguageModel model, string configJson, string tokenizerPath,
        ITokenizer tokenizer, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (dtype is not (DType.F32 or DType.BF16 or DType.F16))
            throw new ArgumentException($"HfModelFolder.Save: weights are saved as f32, bf16 or f16, not {dtype.Name()}.", nameof(dtype));
        Directory.CreateDirectory(directory);

        using (var state = model.Module.StateDict())
        {
            var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            try
            {
                using (GradMode.Disable())
                    foreach (var (name, t) in state)
                        tensors[name] = t.DType == dtype || !t.DType.IsFloat() ? t.Alias() : Ops.Cast(t, dtype);
                SafetensorsWriter.Save(Path.Combine(directory, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
            }
            finally
            {
                foreach (var t in tensors.Values) t.Dispose();
            }
        }

        byte[] tokenizerBytes = File.ReadAllBytes(tokenizerPath);
        AtomicFile.Write(Path.Combine(directory, "tokenizer.json"), s => s.Write(tokenizerBytes));

        var generation = new JsonObject
        {
            ["bos_token_id"] = tokenizer.BosTokenId ?? tokenizer.EosTokenId,
            ["eos_token_id"] = tokenizer.EosTokenId,
            ["pad_token_id"] = tokenizer.PadTokenId,
        };
        WriteJson(Path.Combine(directory, "generation_config.json"), generation);

        var config = JsonNode.Parse(configJson) as JsonObject
            ?? throw new ArgumentException("HfModelFolder.Save: the config is not a JSON object.", nameof(configJson));
        config["torch_dtype"] = dtype switch { DType.BF16 => "bfloat16", DType.F16 => "float16", _ => "float32" };
        config["bos_token_id"] ??= tokenizer.BosTokenId ?? tokenizer.EosTokenId;
        config["eos_token_id"] ??= tokenizer.EosTokenId;
        config["pad_token_id"] ??= tokenizer.PadTokenId;
        WriteJson(Path.Combine(directory, "config.json"), config);
    }

    private static void WriteJson(string path, JsonNode node)
    {
        string text = node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
        AtomicFile.Write(path, s => s.Write(Encoding.UTF8.GetBytes(text)));
    }
}
