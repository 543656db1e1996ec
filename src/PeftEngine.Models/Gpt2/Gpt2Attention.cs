using PeftEngine.IO;
using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>
/// GPT-2's causal self-attention: one Conv1D projects x to queries, keys and values at once (C -> 3C), the heads
/// attend causally, and a second Conv1D projects the joined heads back (C -> C), followed by residual dropout.
/// </summary>
/// <remarks>HF: transformers.models.gpt2.modeling_gpt2.GPT2Attention (children c_attn, c_proj, attn_dropout,
/// resid_dropout). Without attention dropout (evaluation, or attn_pdrop 0) the fused attention kernel runs; with it,
/// the scores are materialised so the dropout can act on the probabilities as in HF.</remarks>
public sealed class Gpt2Attention : Module
{
    /// <summary>Creates the layer for block <paramref name="layerIndex"/> of a model with <paramref name="config"/>.</summary>
    public Gpt2Attention(Gpt2Config config, int layerIndex, DType dtype = DType.F32, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        int c = config.HiddenSize;
        if (config.NumAttentionHeads <= 0 || c % config.NumAttentionHeads != 0)
            throw new ArgumentException($"Gpt2Attention: n_head {config.NumAttentionHeads} must divide n_embd {c}");
        NumHeads = config.NumAttentionHeads;
        HeadDim = c / NumHeads;
        double scale = config.ScaleAttnWeights ? 1.0 / Math.Sqrt(HeadDim) : 1.0;
        if (config.ScaleAttnByInverseLayerIdx) scale /= layerIndex + 1;
        Scale = scale;
        RegisterModule("c_attn", new Conv1D(3 * c, c, dtype, generator));
        RegisterModule("c_proj", new Conv1D(c, c, dtype, generator));
        RegisterModule("attn_dropout", new Dropout(config.AttnPdrop, generator));
        RegisterModule("resid_dropout", new Dropout(config.ResidPdrop, generator));
    }

    /// <summary>Number of heads (n_head).</summary>
    public int NumHeads { get; }

    /// <summary>Width of one head (n_embd / n_head).</summary>
    public int HeadDim { get; }

    /// <summary>The factor the scores q·k are multiplied by before the softmax.</summary>
    public double Scale { get; }

    /// <summary>Causal attention over x (B, T, C) -> (B, T, C).</summary>
    public override Tensor Forward(Tensor x) => Forward(x, null, null);

    /// <summary>Causal attention over x (B, T, C) -> (B, T, C); <paramref name="additiveMask"/> (broadcastable to
    /// (B, nh, T, T), 0 = allowed, -inf = masked, e.g. from <see cref="Ops.PaddingMask"/>) is added on top of the
    /// causal mask. With a <paramref name="cache"/>, x holds the T newest positions: their keys and values are
    /// appended and the queries attend over all S = cached + T positions (the mask is then (B, 1, T, S)).</summary>
    /// <remarks>HF: GPT2Attention with layer_past / use_cache. A <paramref name="prefix"/> of keys and values
    /// (B, nh, P, hs) is placed before this call's own (HF: a layer_past given with the first step); it cannot be
    /// combined with a cache (the body writes it into the cache instead).</remarks>
    public Tensor Forward(Tensor x, Tensor? additiveMask, KvCache? cache = null, (Tensor Keys, Tensor Values)? prefix = null)
    {
        if (x.Rank != 3 || x.Shape[2] != NumHeads * HeadDim)
            throw new ArgumentException($"Gpt2Attention: input must be (B, T, {NumHeads * HeadDim}), got {x.Shape}");
        if (prefix is not null && cache is not null)
            throw new ArgumentException("Gpt2Attention: a prefix goes into the cache before the first step, not next to it");
        int b = x.Shape[0], t = x.Shape[1], c = x.Shape[2];
        using var qkv = GetChild("c_attn").Forward(x);          // (B, T, C) -> (B, T, 3C)
        var parts = Ops.Split(qkv, c, dim: 2);                  // 3 x (B, T, C)
        try
        {
            using var q = SplitHeads(parts[0], b, t);
            using var k = SplitHeads(parts[1], b, t);
            using var v = SplitHeads(parts[2], b, t);
            var (allK, allV) = cache is not null ? cache.Append(k, v)                // (B, nh, S, hs)
                : prefix is { } p ? (Ops.Cat([p.Keys, k], 2), Ops.Cat([p.Values, v], 2))   // (B, nh, P + T, hs)
                : ((Tensor?)null, (Tensor?)null);
            using var ownK = allK;
            using var ownV = allV;
            using var y = Attend(q, allK ?? k, allV ?? v, additiveMask);   // (B, nh, T, hs)
            using var yt = Ops.Transpose(y, 1, 2);              // (B, nh, T, hs) -> (B, T, nh, hs)
            using var merged = Ops.Reshape(yt, b, t, c);        // (B, T, nh, hs) -> (B, T, C) (copies: yt is strided)
            using var projected = GetChild("c_proj").Forward(merged);   // (B, T, C) -> (B, T, C)
            return GetChild("resid_dropout").Forward(projected);
        }
        finally
        {
            foreach (var p in parts) p.Dispose();
        }
    }

    private Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? additiveMask)
    {
        var dropout = (Dropout)GetChild("attn_dropout");
        if (!IsTraining || dropout.P == 0)
            return Ops.ScaledDotProductAttention(q, k, v, additiveMask, isCausal: true, scale: Scale);
        int t = q.Shape[2], s = k.Shape[2];
        using var kt = Ops.Transpose(k, 2, 3);                  // (B, nh, S, hs) -> (B, nh, hs, S)
        using var raw = Ops.MatMul(q, kt);                      // (B, nh, T, S)
        using var scaled = Ops.Mul(raw, Scale);
        using var causal = Ops.CausalMask(t, s, q.DType, q.Device);   // (T, S)
        using var masked = Ops.Add(scaled, causal);
        using var padded = additiveMask is null ? null : Ops.Add(masked, additiveMask);   // keeps the graph either way
        using var probs = Ops.Softmax(padded ?? masked, -1);
        using var dropped = dropout.Forward(probs);
        return Ops.MatMul(dropped, v);                          // (B, nh, T, S) x (B, nh, S, hs) -> (B, nh, T, hs)
    }

    private Tensor SplitHeads(Tensor x, int b, int t)
    {
        using var heads = Ops.Reshape(x, b, t, NumHeads, HeadDim);   // (B, T, C) -> (B, T, nh, hs)
        return Ops.Transpose(heads, 1, 2);                           // (B, T, nh, hs) -> (B, nh, T, hs)
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"n_head={NumHeads}, head_dim={HeadDim}";
}
