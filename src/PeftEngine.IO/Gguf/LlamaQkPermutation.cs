namespace PeftEngine.IO.Gguf;

/// <summary>
/// The row permutation llama.cpp's converter applies to LLaMA-family (llama, mistral, mixtral) q and k projection
/// weights, and its inverse.
/// </summary>
/// <remarks>
/// HF models rotate pairs (x[j], x[j + d/2]) of each head (rotate_half); llama.cpp's "llama" RoPE rotates adjacent
/// pairs (x[2j], x[2j+1]). So <c>convert_hf_to_gguf.py</c> reorders the output rows of q_proj/k_proj within each
/// head of size d: the row at HF position <c>t*d/2 + j</c> (t in {0,1}, j &lt; d/2) moves to GGUF position
/// <c>2j + t</c>. In tensor terms: view the (rows, cols) weight as (heads, 2, d/2, cols), swap axes 1 and 2 and
/// flatten back. k uses the number of key/value heads. Qwen2 and other NEOX-RoPE models are not permuted.
/// A 1-D bias permutes the same way.
/// </remarks>
public static class LlamaQkPermutation
{
    /// <summary>GGUF row order back to HF order: <c>W_hf[h*d + t*d/2 + j] = W_gguf[h*d + 2j + t]</c>.</summary>
    public static Tensor Undo(Tensor weight, int numHeads) => Permute(weight, numHeads, fromGguf: true);

    /// <summary>HF row order to GGUF order (what the converter does): <c>W_gguf[h*d + 2j + t] = W_hf[h*d + t*d/2 + j]</c>.</summary>
    public static Tensor Apply(Tensor weight, int numHeads) => Permute(weight, numHeads, fromGguf: false);

    /// <summary>Architectures whose GGUF q/k weights carry the permutation (llama.cpp writes Mistral as "llama").</summary>
    public static readonly IReadOnlySet<string> PermutedArchitectures = new HashSet<string> { "llama", "mistral", "mixtral" };

    /// <summary>
    /// Loads a tensor from a GGUF file in HF row order: for a permuted architecture, <c>blk.N.attn_q.*</c> is
    /// un-permuted with <c>{arch}.attention.head_count</c> heads and <c>blk.N.attn_k.*</c> with
    /// <c>{arch}.attention.head_count_kv</c> (default: head_count); every other tensor loads unchanged.
    /// </summary>
    public static Tensor LoadInHfOrder(GgufFile file, string name, DType? convertTo = null) =>
        InHfOrder(file, name, file.Load(name, convertTo));

    /// <summary>Puts an already loaded tensor <paramref name="t"/> of <paramref name="file"/> (for instance one expanded
    /// from a quantized block type) into HF row order, as <see cref="LoadInHfOrder"/> does; takes ownership of t.</summary>
    public static Tensor InHfOrder(GgufFile file, string name, Tensor t)
    {
        bool isQ = name.Contains(".attn_q."), isK = name.Contains(".attn_k.");
        if (!(isQ || isK) || !file.Has("general.architecture") || !PermutedArchitectures.Contains(file.Architecture)) return t;
        long heads = file.ArchInteger("attention.head_count")
            ?? throw new InvalidDataException($"GGUF file '{file.Path}': '{file.Architecture}.attention.head_count' is needed to un-permute '{name}'");
        long kvHeads = file.ArchInteger("attention.head_count_kv") ?? heads;
        using (t) return Undo(t, (int)(isQ ? heads : kvHeads));
    }

    private static Tensor Permute(Tensor w, int heads, bool fromGguf)
    {
        int rows = w.Shape[0];
        if (heads <= 0 || rows % (2 * heads) != 0)
            throw new ArgumentException($"LlamaQkPermutation: {rows} rows of {w.Shape} cannot be split into {heads} heads of even size");
        int half = rows / heads / 2;
        var rest = w.Shape.ToArray()[1..];
        // Apply: (rows, ...) -> (heads, 2, d/2, ...) -> swap -> (heads, d/2, 2, ...) -> (rows, ...).
        // Undo:  (rows, ...) -> (heads, d/2, 2, ...) -> swap -> (heads, 2, d/2, ...) -> (rows, ...).
        int[] split = fromGguf ? [heads, half, 2, .. rest] : [heads, 2, half, .. rest];
        using var c = Ops.Contiguous(w);
        using var v = Ops.Reshape(c, split);
        using var s = Ops.Transpose(v, 1, 2);
        using var sc = Ops.Contiguous(s);
        return Ops.Reshape(sc, w.Shape.ToArray());
    }
}
