using PeftEngine.IO;
using PeftEngine.IO.Gguf;
using PeftEngine.Nn;
using PeftEngine.Quant;

namespace PeftEngine.Models;

public sealed partial class LlamaModel
{
    /// <summary>
    /// Loads a LLaMA-family GGUF file as <see cref="FromGguf(string, DType)"/> does, but keeps every projection weight
    /// stored as Q8_0, Q4_0 or Q4_K in its packed blocks: those Linear layers are built as <see cref="GgufLinear"/>
    /// layers straight from the file's blocks (no F32 copy of them is ever allocated, so loading peaks near the packed
    /// size) and multiply on the blocks directly (int8 activations and integer dot products for a few rows,
    /// dequantized tiles into the GEMM for many). Other types (F32, F16, Q6_K, …) and the token embedding are
    /// expanded to F32 as usual. Adapters can wrap the packed layers (LoRA's quantized-base path); the model is in
    /// evaluation mode, on the CPU.
    /// </summary>
    /// <remarks>llama.cpp: llama_model_load keeps every weight in its file type; HF transformers has no packed path.</remarks>
    public static LlamaModel FromGgufPacked(string path) => FromGguf(path, DType.F32, keepPacked: true);

    /// <summary>The factory that builds a <see cref="GgufLinear"/> from the file's blocks for each Linear whose GGUF
    /// weight has a packable type (q and k rows put back into HF order while copying) and adds its key to
    /// <paramref name="packedKeys"/>; other layers are left to the ordinary constructor.</summary>
    private static LlamaLinearFactory PackedLinears(GgufFile file, RopeDecoderConfig config, HashSet<string> packedKeys)
    {
        bool permuted = LlamaQkPermutation.PermutedArchitectures.Contains(file.Architecture);
        return (name, inFeatures, outFeatures, bias) =>
        {
            string? key = GgufWeights.GgufName(name + ".weight");
            if (key is null || !file.Contains(key)) return null;
            var info = file.Info(key);
            if (Array.IndexOf(GgmlPackedWeight.PackableTypes, info.Type) < 0) return null;
            if (info.Shape.Length != 2 || info.Shape[0] != outFeatures || info.Shape[1] != inFeatures)
                throw new InvalidDataException($"LlamaModel.FromGgufPacked: tensor '{key}' in '{file.Path}' has shape ({string.Join(", ", info.Shape)}), expected ({outFeatures}, {inFeatures}) for '{name}'");
            int heads = key.Contains(".attn_q.") ? config.NumAttentionHeads : key.Contains(".attn_k.") ? config.NumKeyValueHeads : 0;
            GgmlPackedWeight weight;
            try
            {
                weight = permuted && heads > 0
                    ? GgmlPackedWeight.FromBlockRows(info.Type, outFeatures, inFeatures, file.RawBytes(key), HfRowSources(outFeatures, heads))
                    : GgmlPackedWeight.FromBlocks(info.Type, outFeatures, inFeatures, file.RawBytes(key));
            }
            catch (ArgumentException e) { throw new InvalidDataException($"LlamaModel.FromGgufPacked: '{file.Path}', tensor '{key}' ({info.Type}): {e.Message}", e); }
            using var zeros = bias ? Tensor.Zeros(new Shape(outFeatures)) : null;   // the bias values are loaded afterwards
            packedKeys.Add(key);
            return new GgufLinear(weight, zeros);
        };
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
