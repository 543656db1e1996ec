using PeftEngine.IO;
using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>
/// BERT's bidirectional multi-head self-attention: three Linear layers project x to queries, keys and values,
/// every position attends to every non-padding position, and the heads are joined again (no output projection
/// here; that is <see cref="BertResidualOutput"/> at <c>attention.output</c>).
/// </summary>
/// <remarks>HF: transformers.models.bert.modeling_bert.BertSelfAttention (children query, key, value, dropout);
/// softmax(q·kᵀ/√d + mask)·v. Without attention dropout (evaluation, or probability 0) the fused attention kernel
/// runs; with it, the probabilities are materialised so the dropout acts on them as in HF.</remarks>
public sealed class BertSelfAttention : Module
{
    /// <summary>Creates the layer with HF's initialisation (weights N(0, 0.02²), zero biases).</summary>
    public BertSelfAttention(BertConfig config, DType dtype = DType.F32, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        int c = config.HiddenSize;
        if (config.NumAttentionHeads <= 0 || c % config.NumAttentionHeads != 0)
            throw new ArgumentException($"BertSelfAttention: num_attention_heads {config.NumAttentionHeads} must divide hidden_size {c}");
        NumHeads = config.NumAttentionHeads;
        HeadDim = c / NumHeads;
        RegisterModule("query", BertModel.NewLinear(c, c, dtype, generator));
        RegisterModule("key", BertModel.NewLinear(c, c, dtype, generator));
        RegisterModule("value", BertModel.NewLinear(c, c, dtype, generator));
        RegisterModule("dropout", new Dropout(config.AttentionProbsDropoutProb, generator));
    }

    /// <summary>Number of heads.</summary>
    public int NumHeads { get; }

    /// <summary>Width of one head (hidden_size / num_attention_heads).</summary>
    public int HeadDim { get; }

    /// <summary>Attention over x (B, T, C) -> (B, T, C) with no padding.</summary>
    public override Tensor Forward(Tensor x) => Forward(x, null);

    /// <summary>Attention over x (B, T, C) -> (B, T, C); <paramref name="additiveMask"/> (B, 1, 1, T) from
    /// <see cref="Ops.PaddingMask"/> keeps every query away from padded keys.</summary>
    /// <remarks>HF: BertSelfAttention.forward(hidden_states, attention_mask) with the extended additive mask.</remarks>
    public Tensor Forward(Tensor x, Tensor? additiveMask)
    {
        if (x.Rank != 3 || x.Shape[2] != NumHeads * HeadDim)
            throw new ArgumentException($"BertSelfAttention: input must be (B, T, {NumHeads * HeadDim}), got {x.Shape}");
        int b = x.Shape[0], t = x.Shape[1], c = x.Shape[2];
        using var q = Heads("query", x, b, t);
        using var k = Heads("key", x, b, t);
        using var v = Heads("value", x, b, t);
        using var y = Attend(q, k, v, additiveMask);       // (B, nh, T, hs)
        using var yt = Ops.Transpose(y, 1, 2);             // (B, nh, T, hs) -> (B, T, nh, hs)
        return Ops.Reshape(yt, b, t, c);                   // (B, T, nh, hs) -> (B, T, C)
    }

    private Tensor Heads(string child, Tensor x, int b, int t)
    {
        using var projected = GetChild(child).Forward(x);                      // (B, T, C) -> (B, T, C)
        using var split = Ops.Reshape(projected, b, t, NumHeads, HeadDim);     // (B, T, C) -> (B, T, nh, hs)
        return Ops.Transpose(split, 1, 2);                                     // (B, T, nh, hs) -> (B, nh, T, hs)
    }

    private Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? additiveMask)
    {
        var dropout = (Dropout)GetChild("dropout");
        double scale = 1.0 / Math.Sqrt(HeadDim);
        if (!IsTraining || dropout.P == 0)
            return Ops.ScaledDotProductAttention(q, k, v, additiveMask, isCausal: false, scale: scale);
        using var kt = Ops.Transpose(k, 2, 3);             // (B, nh, T, hs) -> (B, nh, hs, T)
        using var raw = Ops.MatMul(q, kt);                 // (B, nh, T, T)
        using var scaled = Ops.Mul(raw, scale);
        using var masked = additiveMask is null ? null : Ops.Add(scaled, additiveMask);
        using var probs = Ops.Softmax(masked ?? scaled, -1);
        using var dropped = dropout.Forward(probs);
        return Ops.MatMul(dropped, v);                     // (B, nh, T, T) x (B, nh, T, hs) -> (B, nh, T, hs)
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"num_heads={NumHeads}, head_dim={HeadDim}";
}
