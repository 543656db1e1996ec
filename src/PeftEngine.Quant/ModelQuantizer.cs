using PeftEngine.Nn;

namespace PeftEngine.Quant;

/// <summary>What <see cref="ModelQuantizer.Quantize"/> replaced.</summary>
/// <param name="Layers">Linear layers turned into <see cref="Linear4Bit"/>.</param>
/// <param name="Parameters">Weights they hold.</param>
/// <param name="BytesBefore">Bytes of those weights before.</param>
/// <param name="BytesAfter">Bytes of their 4-bit storage (indices, scales, codebooks).</param>
public sealed record QuantizationReport(int Layers, long Parameters, long BytesBefore, long BytesAfter)
{
    /// <summary>Bytes per quantized weight: 0.5625 for 4-bit with F32 scales in blocks of 64, about 0.516 with double quantization.</summary>
    public double BytesPerParameter => Parameters == 0 ? 0 : (double)BytesAfter / Parameters;
}

/// <summary>
/// Quantizes a model on load: every Linear layer (and GPT-2 Conv1D) except the skipped ones (the output head by
/// default) is replaced, in place, by a frozen <see cref="Linear4Bit"/>; the full-precision weights are freed.
/// </summary>
/// <remarks>HF: AutoModelForCausalLM.from_pretrained(..., quantization_config=BitsAndBytesConfig(load_in_4bit=True)).
/// Embeddings and norms keep their dtype, as transformers leaves them.</remarks>
public static class ModelQuantizer
{
    /// <summary>Replaces the model's Linear layers by 4-bit ones and reports what changed.</summary>
    public static QuantizationReport Quantize(Module model, BitsAndBytesConfig config)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(config);
        if (!config.LoadIn4Bit) throw new ArgumentException("ModelQuantizer: the config does not ask for load_in_4bit");
        var skip = config.LlmInt8SkipModules ?? ["lm_head"];
        var type = config.QuantType;
        int layers = 0;
        long parameters = 0, before = 0, after = 0;
        foreach (var (path, module) in model.NamedModules().ToList())
        {
            if (path.Length == 0 || Skipped(path, skip) || IsAdapterFactor(path)) continue;
            Linear4Bit? replacement = module switch
            {
                Linear l => Linear4Bit.FromLinear(l, type, config.BlockSize, config.Bnb4BitUseDoubleQuant),
                Conv1D c => Linear4Bit.FromConv1D(c, type, config.BlockSize, config.Bnb4BitUseDoubleQuant),
                _ => null,
            };
            if (replacement is null) continue;
            var weight = module is Linear lin ? lin.Weight.Data : ((Conv1D)module).Weight.Data;
            parameters += weight.Numel;
            before += weight.Numel * weight.DType.SizeOf();
            after += replacement.Weight4Bit.ByteSize;
            layers++;
            model.ReplaceSubmodule(path, replacement).Dispose();
        }
        return new QuantizationReport(layers, parameters, before, after);
    }

    /// <summary>LoRA factors (<c>…lora_A.default</c>, <c>…lora_B.default</c>) stay in full precision: a model wrapped
    /// before it is quantized keeps its adapters trainable.</summary>
    private static bool IsAdapterFactor(string path) =>
        path.Split('.').Any(part => part.StartsWith("lora_", StringComparison.Ordinal));

    /// <summary>HF's rule for skip lists: a module is skipped when its path equals an entry or ends with "." + entry.</summary>
    private static bool Skipped(string path, IReadOnlyList<string> skip)
    {
        foreach (var s in skip)
            if (path == s || path.EndsWith("." + s, StringComparison.Ordinal)) return true;
        return false;
    }
}
