// Exporting a PiSSA adapter as a plain LoRA of the ORIGINAL weight (Meng et al., NeurIPS 2024, arXiv 2404.02948,
// §"conversion"). PiSSA starts from W = W_res + s·B₀A₀ and trains (A, B) on the residual base W_res, so the trained
// model computes W_res + s·B·A = W + s·(B·A − B₀·A₀). That difference is itself a LoRA update of rank 2r:
//
//     A' = [A ; A₀]  (2r, in),    B' = [B , −B₀]  (out, 2r),    s·B'·A' = s·(B·A − B₀·A₀)
//
// and the scaling stays s when r doubles: lora_alpha doubles too (with rsLoRA, s = α/√r, α grows by √2).

using PeftEngine.IO.Safetensors;
using PeftEngine.Peft.Serialization;

namespace PeftEngine.Peft.Lora;

/// <summary>Saves a trained PiSSA adapter as a rank-2r LoRA adapter that applies to the original (not the residual)
/// base weights, so it can be shared and loaded like any LoRA adapter.</summary>
/// <remarks>HF: PeftModel.save_pretrained(..., path_initial_model_for_weight_conversion=...) and
/// LoraModel.subtract_mutated_init (lora_A: cat([A, A₀], dim 0); lora_B: cat([B, −B₀], dim 1)).</remarks>
public static class PissaConversion
{
    /// <summary>
    /// Writes <paramref name="adapterName"/> to <paramref name="directory"/> (files at its root) as a plain LoRA adapter
    /// of the original base. <paramref name="initialAdapterDirectory"/> holds the same adapter as it was saved right
    /// after creation, before any training (its <c>adapter_model.safetensors</c> gives A₀ and B₀).
    /// </summary>
    public static void SavePretrainedConvertingPissa(this PeftModel model, string directory, string initialAdapterDirectory,
        string adapterName = "default", Version? peftVersion = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var (config, tensors) = Convert(model, initialAdapterDirectory, adapterName);
        try
        {
            Directory.CreateDirectory(directory);
            SafetensorsWriter.Save(Path.Combine(directory, PeftModel.WeightsFileName), tensors, new Dictionary<string, string> { ["format"] = "pt" });
            string configPath = Path.Combine(directory, AdapterConfigJson.FileName);
            File.WriteAllText(configPath + ".tmp", AdapterConfigJson.Write(config with { InferenceMode = true }, peftVersion));
            File.Move(configPath + ".tmp", configPath, overwrite: true);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>The converted config and tensors (file keys) of <paramref name="adapterName"/>; the caller owns the tensors.</summary>
    public static (LoraConfig Config, Dictionary<string, Tensor> Tensors) Convert(PeftModel model, string initialAdapterDirectory, string adapterName = "default")
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!model.PeftConfigs.TryGetValue(adapterName, out var c)) throw new ArgumentException($"Adapter {adapterName} does not exist");
        var lora = c as LoraConfig ?? throw new ArgumentException($"PiSSA conversion: adapter {adapterName} is {c.PeftType}, not LORA");
        if (lora.InitLoraWeights != LoraInit.Pissa)
            throw new ArgumentException($"PiSSA conversion: adapter {adapterName} was initialised with {lora.InitLoraWeights}, not PiSSA; save it with SavePretrained");
        if (lora.UseDora || lora.LoraBias)
            throw new NotSupportedException("PiSSA conversion: DoRA and lora_bias adapters cannot be expressed as a plain LoRA of the original weight");
        string initialPath = Path.Combine(initialAdapterDirectory, PeftModel.WeightsFileName);
        if (!File.Exists(initialPath)) throw new FileNotFoundException($"PiSSA conversion: initial adapter '{initialPath}' not found", initialPath);

        using var current = new LoraTuner().SaveStateDict(model.Model, adapterName, lora).AsDisposable();
        using var file = SafetensorsFile.Open(initialPath);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            using var _ = GradMode.Disable();
            foreach (var (key, value) in current.Items)
            {
                bool isA = key.EndsWith(".lora_A.weight", StringComparison.Ordinal) || key.EndsWith(".lora_embedding_A", StringComparison.Ordinal);
                bool isB = key.EndsWith(".lora_B.weight", StringComparison.Ordinal) || key.EndsWith(".lora_embedding_B", StringComparison.Ordinal);
                if (!isA && !isB) { result[key] = Ops.Clone(value); continue; }
                if (!file.Contains(key)) throw new InvalidDataException($"PiSSA conversion: '{initialPath}' has no tensor {key}");
                using var initial = file.Load(key, DType.F32);
                if (initial.Shape != value.Shape)
                    throw new InvalidDataException($"PiSSA conversion: {key} is {value.Shape} now but {initial.Shape} in the initial adapter");
                using var f32 = Ops.Cast(value, DType.F32);
                if (isA) result[key] = Ops.Cat([f32, initial], 0);                   // (r, in) ++ (r, in) -> (2r, in)
                else
                {
                    using var negated = Ops.Mul(initial, -1.0);
                    result[key] = Ops.Cat([f32, negated], 1);                        // (out, r) ++ (out, r) -> (out, 2r)
                }
            }
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        var converted = lora with
        {
            InitLoraWeights = LoraInit.Default, PissaNiter = null, R = 2 * lora.R,
            LoraAlpha = lora.UseRslora ? lora.LoraAlpha * Math.Sqrt(2) : 2 * lora.LoraAlpha,
            RankPattern = lora.RankPattern.ToDictionary(kv => kv.Key, kv => 2 * kv.Value),
            AlphaPattern = lora.AlphaPattern.ToDictionary(kv => kv.Key, kv => lora.UseRslora ? kv.Value * Math.Sqrt(2) : 2 * kv.Value),
        };
        return (converted, result);
    }

    private static DisposableDictionary AsDisposable(this Dictionary<string, Tensor> d) => new(d);

    private sealed class DisposableDictionary(Dictionary<string, Tensor> items) : IDisposable
    {
        public Dictionary<string, Tensor> Items { get; } = items;

        public void Dispose()
        {
            foreach (var t in Items.Values) t.Dispose();
        }
    }
}
