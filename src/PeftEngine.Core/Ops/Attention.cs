namespace PeftEngine;

/// <summary>
/// Scaled dot-product attention, composed of matmul, softmax and masks: softmax(Q·Kᵀ·scale + mask)·V.
/// Being a composite, its gradient comes from the parts; it is also the oracle for fused attention kernels.
/// </summary>
/// <remarks>PyTorch: torch.nn.functional.scaled_dot_product_attention (without dropout). Grouped-query attention
/// (fewer key/value heads than query heads) repeats each key/value head for its group of query heads.</remarks>
public static partial class Ops
{
    /// <summary>Attention of queries over keys and values.</summary>
    /// <param name="q">Queries (B, H, T, D).</param>
    /// <param name="k">Keys (B, Hkv, S, D); H must be a multiple of Hkv.</param>
    /// <param name="v">Values (B, Hkv, S, Dv).</param>
    /// <param name="mask">Optional additive mask broadcastable to (B, H, T, S): 0 where attention is allowed and
    /// -infinity where it is not (see <see cref="CausalMask"/> and <see cref="PaddingMask"/>).</param>
    /// <param name="isCausal">Also forbid each query from attending to later keys. The queries are taken to be the
    /// last T of the S positions (see <see cref="CausalMask"/>), which is PyTorch's is_causal when T = S and what a
    /// key/value cache needs when T &lt; S.</param>
    /// <param name="scale">Score scale; 1/√D by default.</param>
    /// <returns>(B, H, T, Dv).</returns>
    public static Tensor ScaledDotProductAttention(Tensor q, Tensor k, Tensor v, Tensor? mask = null, bool isCausal = false, double? scale = null)
    {
        if (q.Rank != 4 || k.Rank != 4 || v.Rank != 4)
            throw new ArgumentException($"ScaledDotProductAttention: expected 4-D q, k, v as (B, H, T, D); got q {q.Shape}, k {k.Shape}, v {v.Shape}");
        int b = q.Shape[0], h = q.Shape[1], t = q.Shape[2], d = q.Shape[3];
        int hkv = k.Shape[1], s = k.Shape[2];
        if (k.Shape[0] != b || v.Shape[0] != b || k.Shape[3] != d || v.Shape[1] != hkv || v.Shape[2] != s)
            throw new ArgumentException($"ScaledDotProductAttention: shapes do not agree: q {q.Shape}, k {k.Shape}, v {v.Shape}");
        if (h % hkv != 0)
            throw new ArgumentException($"ScaledDotProductAttention: {h} query heads is not a multiple of {hkv} key/value heads");

        using var kr = RepeatHeads(k, h / hkv);   // (B, Hkv, S, D) -> (B, H, S, D)
        using var vr = RepeatHeads(v, h / hkv);   // (B, Hkv, S, Dv) -> (B, H, S, Dv)
        using var kt = Transpose(kr, 2, 3);       // (B, H, S, D) -> (B, H, D, S)
        using var raw = MatMul(q, kt);            // (B, H, T, S)
        using var scores = Mul(raw, scale ?? 1.0 / Math.Sqrt(d));
        using var causal = isCausal ? CausalMask(t, s, q.DType, q.Device) : null;   // (T, S), broadcast over (B, H)
        using var withCausal = causal is null ? null : Add(scores, causal);
        var beforeMask = withCausal ?? scores;
        using var withMask = mask is null ? null : Add(beforeMask, mask);
        using var p = Softmax(withMask ?? beforeMask, -1);   // (B, H, T, S)
        return MatMul(p, vr);                                  // (B, H, T, Dv)
    }

    /// <summary>Repeats each head <paramref name="times"/> times along dim 1: (B, Hkv, S, D) -> (B, Hkv*times, S, D).</summary>
    private static Tensor RepeatHeads(Tensor x, int times)
    {
        if (times == 1) return View(x, x.Shape.ToArray());   // a recorded view, so gradients reach x
        int b = x.Shape[0], hkv = x.Shape[1], s = x.Shape[2], d = x.Shape[3];
        using var u = Unsqueeze(x, 2);                       // (B, Hkv, 1, S, D)
        using var e = Expand(u, b, hkv, times, s, d);        // (B, Hkv, g, S, D), no copy
        return Reshape(e, b, hkv * times, s, d);             // (B, H, S, D), copies
    }
}
