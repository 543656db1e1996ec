using PeftEngine.IO.Gguf;
using PeftEngine.Nn;
using PeftEngine.Quant;

namespace PeftEngine.Models;

public sealed partial class LlamaModel
{
    /// <summary>
    /// Loads a LLaMA-family GGUF file as <see cref="FromGguf(string, DType)"/> does, but keeps every projection weight
    /// stored as Q8_0, Q4_0 or Q4_K in its packed blocks: those Linear layers become <see cref="GgufLinear"/> layers
    /// that multiply on the blocks directly (int8 activations and integer dot products for a few rows, dequantized
    /// tiles into the GEMM for many). Other types (F32, F16, Q6_K, …) are expanded to F32 as usual. Adapters can wrap
    /// the packed layers (LoRA's quantized-base path); the model is in evaluation mode, on the CPU.
    /// </summary>
    /// <remarks>llama.cpp: llama_model_load keeps every weight in its file type; HF transformers has no packed path.</remarks>
    public static LlamaModel FromGgufPacked(string path) => FromGguf(path, DType.F32, keepPacked: true);

    /// <summary>Replaces each Linear layer whose GGUF weight has a packable type by a <see cref="GgufLinear"/> holding
    /// the file's blocks (q and k rows put back into HF order); returns the GGUF keys now held packed.</summary>
    private static HashSet<string> KeepPacked(LlamaModel model, GgufFile file)
    {
        var packedKeys = new HashSet<string>();
        bool permuted = file.Has("general.architecture") && LlamaQkPermutation.PermutedArchitectures.Contains(file.Architecture);
        var linears = model.NamedModules().Where(m => m.Module is Linear).Select(m => m.Name).ToList();
        foreach (var name in linears)
        {
            string? key = GgufWeights.GgufName(name + ".weight");
            if (key is null || !file.Contains(key)) continue;
            var info = file.Info(key);
            if (Array.IndexOf(GgmlPackedWeight.PackableTypes, info.Type) < 0) continue;
            var linear = (Linear)model.GetSubmodule(name);
            if (info.Shape.Length != 2 || info.Shape[0] != linear.OutFeatures || info.Shape[1] != linear.InFeatures)
                throw new InvalidDataException($"LlamaModel.FromGgufPacked: tensor '{key}' in '{file.Path}' has shape ({string.Join(", ", info.Shape)}), expected ({linear.OutFeatures}, {linear.InFeatures}) for '{name}'");
            GgmlPackedWeight packed;
            try { packed = GgmlPackedWeight.FromBlocks(info.Type, linear.OutFeatures, linear.InFeatures, file.RawBytes(key)); }
            catch (ArgumentException e) { throw new InvalidDataException($"LlamaModel.FromGgufPacked: '{file.Path}', tensor '{key}' ({info.Type}): {e.Message}", e); }
            int heads = key.Contains(".attn_q.") ? model.Config.NumAttentionHeads : key.Contains(".attn_k.") ? model.Config.NumKeyValueHeads : 0;
            if (permuted && heads > 0)
                using (var inGgufOrder = packed) packed = inGgufOrder.GatherRows(HfRowSources(linear.OutFeatures, heads));
            var old = model.ReplaceSubmodule(name, new GgufLinear(packed, linear.Bias?.Data));   // the bias values are loaded afterwards
            old.Dispose();
            packedKeys.Add(key);
        }
        return packedKeys;
    }

    /// <summary>For each HF row of a q/k projection, the GGUF row it is stored at: within each head of size d,
    /// HF row t·d/2 + j is GGUF row 2j + t (see <see cref="LlamaQkPermutation"/>).</summary>
    private static int[] HfRowSources(int rows, int heads)
    {
        int d = rows / heads, half = d / 2;
        var source = new int[rows];
        for (int h = 0; h < heads; h++)
            for (int t = 0; t < 2; t++)
                for (int j = 0; j < half; j++)
                    source[h * d + t * half + j] = h * d + 2 * j + t;
        return source;
    }
}
