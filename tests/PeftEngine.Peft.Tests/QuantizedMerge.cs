using PeftEngine.Peft;
using PeftEngine.Peft.Lora;
using PeftEngine.Quant;

namespace PeftEngine.Tests;

/// <summary>Merging LoRA into a quantized base (NF4 in QLoraTests, GGUF blocks in GgufLoraTests): the weights a test
/// compares, the exact sum W_q + ΔW before merging and the requantized weight after.</summary>
internal static class QuantizedMerge
{
    /// <summary>Every LoRA linear layer of <paramref name="peft"/> by module name.</summary>
    public static Dictionary<string, LoraLinear> LoraLinears(PeftModel peft) =>
        peft.NamedModules().Where(nm => nm.Module is LoraLinear).ToDictionary(nm => nm.Name, nm => (LoraLinear)nm.Module);

    /// <summary>The layer's quantized base weight, dequantized, flat.</summary>
    public static float[] BaseWeight(LoraLinear layer)
    {
        using var w = ((IQuantizedLinear)layer.BaseLayer).Dequantize();
        return w.ToArray<float>();
    }

    /// <summary>Per layer, the exact merged weight W_q + ΔW of <paramref name="adapter"/> (taken before merging).</summary>
    public static Dictionary<string, float[]> ExactMergedWeights(IReadOnlyDictionary<string, LoraLinear> layers, string adapter = "default")
    {
        var exact = new Dictionary<string, float[]>();
        foreach (var (name, layer) in layers)
        {
            using var w = ((IQuantizedLinear)layer.BaseLayer).Dequantize();
            using var delta = layer.DeltaWeight(adapter);
            using var sum = Ops.Add(w, delta);
            exact[name] = sum.ToArray<float>();
        }
        return exact;
    }
}
