using PeftEngine.IO;
using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>
/// LLaMA-family self-attention: q_proj, k_proj, v_proj and o_proj Linear children, rotary positions on queries
/// and keys, grouped-query attention (Hkv key/value heads shared by groups of the H query heads), an optional
/// key/value cache, and the additive padding / sliding-window mask built by the body.
/// </summary>
/// <remarks>HF: LlamaAttention / MistralAttention / Qwen2Attention. Qwen2 adds biases to q/k/v (not o);
/// LLaMA's <c>attention_bias</c> adds them to all four. Attention dropout (attention_dropout, 0 in every
/// released config) is not applied. Shapes: x (B, T, C) -> q (B, H, T, D), k and v (B, Hkv, T, D) ->
/// (B, H, T, D) -> (B, T, H·D) -> o_proj -> (B, T, C).</remarks>
public sealed class LlamaAttention : Module
{
    /// <summary>Creates the layer for a model with <paramref name="config"/>.</summary>
    public LlamaAttention(RopeDecoderConfig config, DType dtype = DType.F32, Generator? generator = null)
        : this(config, dtype, generator, null, "") { }

    /// <summary>Creates the layer with its projections from <paramref name="linears"/> (paths under <paramref name="path"/>).</summary>
    internal LlamaAttention(RopeDecoderConfig config, DType dtype, Generator? generator, LlamaLinearFactory? linears, string path)
    {
        ArgumentNullException.ThrowIfNull(config);
        int c = config.HiddenSize, h = config.NumAttentionHeads, hkv = config.NumKeyValueHeads, d = config.HeadDim;
        if (h <= 0 || hkv <= 0 || h % hkv != 0)
            throw new ArgumentException($"LlamaAttention: num_attention_heads {h} must be a positive multiple of num_key_value_heads {hkv}");
        if (d <= 0 || d % 2 != 0) throw new ArgumentException($"LlamaAttention: head_dim {d} must be positive and even for rotary embeddings");
        NumHeads = h;
        NumKvHeads = hkv;
        HeadDim = d;
        RegisterModule("q_proj", LlamaLinears.Create(linears, path + "q_proj", c, h * d, config.AttentionBias, dtype, generator));
        RegisterModule("k_proj", LlamaLinears.Create(linears, path + "k_proj", c, hkv * d, config.AttentionBias, dtype, generator));
        RegisterModule("v_proj", LlamaLinears.Create(linears, path + "v_proj", c, hkv * d, config.AttentionBias, dtype, generator));
        RegisterModule("o_proj", LlamaLinears.Create(linears, path + "o_proj", h * d, c, config.OutputProjectionBias, dtype, generator));
    }

    /// <summary>H, the query heads.</summary>
    public int NumHeads { get; }

    /// <summary>Hkv, the key/value heads.</summary>
    public int NumKvHeads { get; }

    /// <summary>D, the width of one head.</summary>
    public int HeadDim { get; }

    /// <summary>Attention over x (B, T, C) at positions <paramref name="offset"/> .. offset + T - 1.</summary>
    /// <param name="x">Hidden states (B, T, C) of the T newest positions.</param>
    /// <param name="mask">Additive mask (B, 1, T, S) or null; causality is applied on top.</param>
    /// <param name="rotary">The model's rotary tables.</param>
    /// <param name="cache">This layer's cache, or null: the new keys/values are appended and attention covers
    /// all S = cached + T positions.</param>
    /// <param name="positionIds">(B, T) I64 rotary positions per row, or null for P + cached .. P + cached + T - 1.</param>
    /// <param name="prefix">Keys and values (B, Hkv, P, D) placed before this call's own, used as given (no
    /// rotary), or null. Not together with a cache (the body writes a prefix into the cache instead).</param>
    public Tensor Forward(Tensor x, Tensor? mask, LlamaRotaryEmbedding rotary, KvCache? cache, Tensor? positionIds = null,
        (Tensor Keys, Tensor Values)? prefix = null)
    {
        ArgumentNullException.ThrowIfNull(rotary);
        if (x.Rank != 3) throw new ArgumentException($"LlamaAttention: input must be (B, T, C), got {x.Shape}");
        if (prefix is not null && cache is not null)
            throw new ArgumentException("LlamaAttention: a prefix goes into the cache before the first step, not next to it");
        int b = x.Shape[0], t = x.Shape[1];
        int offset = cache?.Length ?? prefix?.Keys.Shape[2] ?? 0;
        using var q = Heads("q_proj", x, NumHeads, rotary, offset, positionIds);     // (B, H, T, D)
        using var k = Heads("k_proj", x, NumKvHeads, rotary, offset, positionIds);   // (B, Hkv, T, D)
        using var v = Heads("v_proj", x, NumKvHeads, null, 0, null);                 // (B, Hkv, T, D)
        var (allK, allV) = cache is not null ? cache.Append(k, v)                    // (B, Hkv, S, D)
            : prefix is { } p ? (Ops.Cat([p.Keys, k], 2), Ops.Cat([p.Values, v], 2))   // (B, Hkv, P + T, D)
            : ((Tensor?)null, (Tensor?)null);
        using (allK)
        using (allV)
        {
            using var y = Ops.ScaledDotProductAttention(q, allK ?? k, allV ?? v, mask, isCausal: true,
                scale: 1.0 / Math.Sqrt(HeadDim));                        // (B, H, T, D)
            using var yt = Ops.Transpose(y, 1, 2);                       // (B, H, T, D) -> (B, T, H, D)
            using var merged = Ops.Reshape(yt, b, t, NumHeads * HeadDim);   // (B, T, H, D) -> (B, T, H·D)
            return GetChild("o_proj").Forward(merged);                   // (B, T, H·D) -> (B, T, C)
        }
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) =>
        throw new InvalidOperationException("LlamaAttention needs the model's rotary tables: call Forward(x, mask, rotary, cache)");

    private Tensor Heads(string projection, Tensor x, int heads, LlamaRotaryEmbedding? rotary, int offset, Tensor? positionIds)
    {
        int b = x.Shape[0], t = x.Shape[1];
        using var p = GetChild(projection).Forward(x);          // (B, T, C) -> (B, T, n·D)
        using var split = Ops.Reshape(p, b, t, heads, HeadDim);   // (B, T, n·D) -> (B, T, n, D)
        var h = Ops.Transpose(split, 1, 2);                     // (B, T, n, D) -> (B, n, T, D)
        if (rotary is null) return h;
        using (h) return positionIds is null ? rotary.Apply(h, offset) : rotary.Apply(h, positionIds);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"heads={NumHeads}, kv_heads={NumKvHeads}, head_dim={HeadDim}";
}
