namespace PeftEngine;

/// <summary>
/// Scaled dot-product attention, softmax(Q·Kᵀ·scale + mask)·V: a fused, tiled kernel (the default) and the same
/// thing composed of matmul, softmax and masks (the oracle the fused kernel is tested against).
/// </summary>
/// <remarks>PyTorch: torch.nn.functional.scaled_dot_product_attention (without dropout). Grouped-query attention
/// (fewer key/value heads than query heads) shares each key/value head among its group of query heads.</remarks>
public static partial class Ops
{
    /// <summary>Attention of queries over keys and values, by the fused kernel: the (T, S) matrix of scores is
    /// never stored for a whole sequence, and the backward recomputes it tile by tile from a saved logsumexp.</summary>
    /// <param name="q">Queries (B, H, T, D).</param>
    /// <param name="k">Keys (B, Hkv, S, D); H must be a multiple of Hkv.</param>
    /// <param name="v">Values (B, Hkv, S, Dv).</param>
    /// <param name="mask">Optional additive mask broadcastable to (B, H, T, S): 0 where attention is allowed and
    /// -infinity where it is not (see <see cref="CausalMask"/> and <see cref="PaddingMask"/>). It is read as a
    /// broadcast view, not copied, when its last dimension is contiguous. A mask that requires a gradient sends
    /// the call to <see cref="ScaledDotProductAttentionComposite"/>, which differentiates it.</param>
    /// <param name="isCausal">Also forbid each query from attending to later keys. The queries are taken to be the
    /// last T of the S positions (see <see cref="CausalMask"/>), which is PyTorch's is_causal when T = S and what a
    /// key/value cache needs when T &lt; S.</param>
    /// <param name="scale">Score scale; 1/√D by default.</param>
    /// <returns>(B, H, T, Dv).</returns>
    /// <remarks>PyTorch: torch.nn.functional.scaled_dot_product_attention with its flash or memory-efficient
    /// backend.</remarks>
    public static Tensor ScaledDotProductAttention(Tensor q, Tensor k, Tensor v, Tensor? mask = null, bool isCausal = false, double? scale = null)
    {
        const string op = "ScaledDotProductAttention";
        CheckAttentionShapes(q, k, v, op);
        if (mask is not null && Graph.IsRecording(mask))
            return ScaledDotProductAttentionComposite(q, k, v, mask, isCausal, scale);
        DTypes.RequireCompute(q, op);
        if (k.DType != q.DType || v.DType != q.DType)
            throw new ArgumentException($"{op}: q, k and v must share a dtype; got {q.DType.Name()}, {k.DType.Name()}, {v.DType.Name()}");
        int b = q.Shape[0], h = q.Shape[1], t = q.Shape[2], d = q.Shape[3];
        int s = k.Shape[2], dv = v.Shape[3];
        if (isCausal && t > s)
            throw new ArgumentException($"{op}: causal attention needs queries ({t}) <= keys ({s}); otherwise some query would see no key");
        double sc = scale ?? 1.0 / Math.Sqrt(d);

        using var qc = ContiguousNoGrad(q);
        using var kc = ContiguousNoGrad(k);
        using var vc = ContiguousNoGrad(v);
        using var maskView = mask is null ? null : AttentionMaskView(mask, q, b, h, t, s, op);   // (B, H, T, S) view
        var output = Tensor.Empty(new Shape(b, h, t, dv), q.DType, q.Device);
        using var lse = Tensor.Empty(new Shape(b, h, t), q.DType, q.Device);
        q.Backend.AttentionForward(qc, kc, vc, maskView, isCausal, sc, output, lse);
        if (Graph.IsRecording(q, k, v))
            Graph.Attach(output, new AttentionNode(qc, kc, vc, maskView, isCausal, sc, output, lse), q, k, v);
        return output;
    }

    /// <summary>The same attention composed of <see cref="MatMul"/>, <see cref="Softmax"/> and mask additions,
    /// which materialises the (B, H, T, S) scores; its gradient comes from the parts (including the mask's).</summary>
    /// <remarks>Kept as the oracle for the fused kernel. Arguments as for <see cref="ScaledDotProductAttention"/>.</remarks>
    public static Tensor ScaledDotProductAttentionComposite(Tensor q, Tensor k, Tensor v, Tensor? mask = null, bool isCausal = false, double? scale = null)
    {
        CheckAttentionShapes(q, k, v, "ScaledDotProductAttentionComposite");
        int h = q.Shape[1], t = q.Shape[2], d = q.Shape[3];
        int hkv = k.Shape[1], s = k.Shape[2];
        // Multi-head attention uses k and v as they are (an alias would cut them off the graph).
        using var kRepeated = h == hkv ? null : RepeatHeads(k, h / hkv);   // (B, Hkv, S, D) -> (B, H, S, D)
        using var vRepeated = h == hkv ? null : RepeatHeads(v, h / hkv);   // (B, Hkv, S, Dv) -> (B, H, S, Dv)
        var kr = kRepeated ?? k;
        var vr = vRepeated ?? v;
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

    private static void CheckAttentionShapes(Tensor q, Tensor k, Tensor v, string op)
    {
        q.ThrowIfDisposed();
        k.ThrowIfDisposed();
        v.ThrowIfDisposed();
        if (q.Rank != 4 || k.Rank != 4 || v.Rank != 4)
            throw new ArgumentException($"{op}: expected 4-D q, k, v as (B, H, T, D); got q {q.Shape}, k {k.Shape}, v {v.Shape}");
        int b = q.Shape[0], h = q.Shape[1], d = q.Shape[3];
        int hkv = k.Shape[1], s = k.Shape[2];
        if (k.Shape[0] != b || v.Shape[0] != b || k.Shape[3] != d || v.Shape[1] != hkv || v.Shape[2] != s)
            throw new ArgumentException($"{op}: shapes do not agree: q {q.Shape}, k {k.Shape}, v {v.Shape}");
        if (hkv == 0 || h % hkv != 0)
            throw new ArgumentException($"{op}: {h} query heads is not a multiple of {hkv} key/value heads");
    }

    /// <summary>The mask as a (B, H, T, S) view in q's dtype, broadcast dimensions with stride 0 and keys with
    /// stride 1 (the mask is cast or copied first only when it is not already so). Not recorded.</summary>
    private static Tensor AttentionMaskView(Tensor mask, Tensor q, int b, int h, int t, int s, string op)
    {
        mask.ThrowIfDisposed();
        if (mask.Rank > 4)
            throw new ArgumentException($"{op}: mask {mask.Shape} has more than 4 dimensions; expected one broadcastable to (B, H, T, S) = ({b}, {h}, {t}, {s})");
        if (mask.Device != q.Device)
            throw new ArgumentException($"{op}: mask is on {mask.Device}, q on {q.Device}");
        using (GradMode.Disable())
        {
            using var cast = mask.DType == q.DType ? mask.Alias() : Cast(mask, q.DType);
            using var typed = cast.Rank == 0 ? Reshape(cast, 1) : cast.Alias();   // a scalar mask as (1)
            bool keysContiguous = typed.Shape[-1] == 1 && s == 1 || typed.Strides[typed.Rank - 1] == 1 && typed.Shape[-1] == s;
            using var rows = keysContiguous ? typed.Alias() : Contiguous(typed);
            if (rows.Shape[-1] == 1 && s > 1)
            {
                // A mask constant along keys: materialise its rows so that keys have stride 1.
                var shape = rows.Shape.ToArray();
                shape[^1] = s;
                using var wide = Expand(rows, shape);
                using var dense = Contiguous(wide);
                return Expand(dense, b, h, t, s);
            }
            return Expand(rows, b, h, t, s);   // (…, S) -> (B, H, T, S), no copy
        }
    }

    /// <summary>Repeats each head <paramref name="times"/> times along dim 1: (B, Hkv, S, D) -> (B, Hkv*times, S, D).</summary>
    private static Tensor RepeatHeads(Tensor x, int times)
    {
        int b = x.Shape[0], hkv = x.Shape[1], s = x.Shape[2], d = x.Shape[3];
        using var u = Unsqueeze(x, 2);                       // (B, Hkv, 1, S, D)
        using var e = Expand(u, b, hkv, times, s, d);        // (B, Hkv, g, S, D), no copy
        return Reshape(e, b, hkv * times, s, d);             // (B, H, S, D), copies
    }

    /// <summary>
    /// Backward of fused attention: calls the fused backward kernel with the saved q, k, v, output and per-row
    /// logsumexp, computing only the gradients whose inputs need one. dk and dv come back in k's and v's
    /// (B, Hkv, S, ·) shapes, already summed over each group of query heads.
    /// </summary>
    private sealed class AttentionNode : GradNode
    {
        private readonly SavedTensor _q, _k, _v, _output, _lse;
        private readonly SavedTensor? _mask;
        private readonly bool _causal;
        private readonly double _scale;

        public AttentionNode(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal, double scale, Tensor output, Tensor lse)
        {
            (_q, _k, _v, _output, _lse) = (Save(q), Save(k), Save(v), Save(output), Save(lse));
            if (mask is not null) _mask = Save(mask);
            (_causal, _scale) = (causal, scale);
        }

        public override string Name => "ScaledDotProductAttention";

        public override Tensor?[] Backward(Tensor g)
        {
            Tensor q = _q.Value, k = _k.Value, v = _v.Value;
            using var gc = ContiguousNoGrad(g);
            var dq = NeedsGrad(0) ? Tensor.Empty(q.Shape, q.DType, q.Device) : null;
            var dk = NeedsGrad(1) ? Tensor.Empty(k.Shape, k.DType, k.Device) : null;
            var dv = NeedsGrad(2) ? Tensor.Empty(v.Shape, v.DType, v.Device) : null;
            q.Backend.AttentionBackward(q, k, v, _mask?.Value, _causal, _scale, _output.Value, gc, _lse.Value, dq, dk, dv);
            return [dq, dk, dv];
        }
    }
}
