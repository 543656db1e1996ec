using PeftEngine.Models;
using PeftEngine.Nn;

namespace PeftEngine.Peft.Prompt;

/// <summary>
/// Prefix tuning: a <see cref="PrefixEncoder"/> per adapter whose flat output (n, L·2·token_dim) becomes, per layer,
/// keys and values (B, heads, n, token_dim / heads) before the sequence's own.
/// </summary>
/// <remarks>HF: PeftModel._setup_prompt_encoder with PrefixEncoder and the prefix branch of get_prompt:
/// view(B, n, 2L, heads, D).permute(2, 0, 3, 1, 4).split(2), so layer l's keys are slot 2l and its values slot
/// 2l + 1. Under grouped-query attention the prefix is sized per key/value head (token_dim = hidden / H · Hkv,
/// heads = Hkv), as PEFT does since it fixed prefix tuning for GQA models.</remarks>
public sealed class PrefixTuningTuner : PromptLearningTuner
{
    /// <inheritdoc/>
    public override string PeftType => "PREFIX_TUNING";

    /// <inheritdoc/>
    /// <remarks>HF: _prepare_prompt_learning_config: with num_key_value_heads in the model config, token_dim =
    /// token_dim // heads · kv_heads and heads = kv_heads (applied on every load, which leaves saved values as they
    /// are); encoder_hidden_size defaults to token_dim.</remarks>
    protected override PromptLearningConfig Complete(PromptLearningConfig config, DecoderGeometry geometry)
    {
        var c = (PrefixTuningConfig)config;
        if (geometry.HasKeyValueHeadsField)
            c = c with { TokenDim = c.TokenDim!.Value / c.NumAttentionHeads!.Value * geometry.NumKeyValueHeads, NumAttentionHeads = geometry.NumKeyValueHeads };
        c = c with { EncoderHiddenSize = c.EncoderHiddenSize ?? c.TokenDim };
        if (c.InitWeights is not (null or "zero"))
            throw new ArgumentException($"PREFIX_TUNING: init_weights must be null or \"zero\", got \"{c.InitWeights}\"");
        int heads = c.NumAttentionHeads!.Value, dim = c.TokenDim!.Value;
        if (c.NumLayers != geometry.NumLayers || heads != geometry.NumKeyValueHeads || dim % heads != 0 || dim / heads != geometry.HeadDim)
            throw new ArgumentException($"PREFIX_TUNING: num_layers {c.NumLayers}, num_attention_heads {heads} and token_dim {dim} give a prefix of "
                + $"{c.NumLayers} layers x {heads} heads x {(heads == 0 ? 0 : dim / heads)}; the model's attention has {geometry.NumLayers} layers x "
                + $"{geometry.NumKeyValueHeads} key/value heads x {geometry.HeadDim}");
        return c;
    }

    /// <inheritdoc/>
    protected override Module CreateEncoder(PromptLearningConfig config, Generator? generator) =>
        new PrefixEncoder((PrefixTuningConfig)config, generator);

    /// <inheritdoc/>
    protected override Parameter Table(Module encoder) => ((PrefixEncoder)encoder).Weight;

    /// <inheritdoc/>
    protected override Tensor Computed(Module encoder) => ((PrefixEncoder)encoder).Prefix();

    /// <summary>The attention prefix of <paramref name="adapter"/> for a batch, in <paramref name="dtype"/>, with the
    /// graph to the encoder. The tensors it holds are added to <paramref name="owned"/> (the caller disposes them
    /// after the forward).</summary>
    internal AttentionPrefix BuildPrefix(string adapter, PrefixTuningConfig config, int batch, DType dtype, List<Tensor> owned)
    {
        int n = config.NumVirtualTokens, layers = config.NumLayers!.Value, heads = config.NumAttentionHeads!.Value;
        int d = config.TokenDim!.Value / heads;
        using var flat = ((PrefixEncoder)Encoder(adapter)).Prefix();                      // (n, L·2·token_dim)
        using var cast = flat.DType == dtype ? null : Ops.Cast(flat, dtype);
        using var split = Ops.Reshape(cast ?? flat, n, 2 * layers, heads, d);             // (n, 2L, heads, D)
        using var slots = Ops.Permute(split, 1, 2, 0, 3);                                 // (2L, heads, n, D)
        var pairs = new List<(Tensor Keys, Tensor Values)>(layers);
        for (int l = 0; l < layers; l++)
            pairs.Add((Slot(slots, 2 * l, batch, owned), Slot(slots, 2 * l + 1, batch, owned)));
        return new AttentionPrefix(pairs);
    }

    private static Tensor Slot(Tensor slots, int index, int batch, List<Tensor> owned)
    {
        using var one = Ops.Select(slots, 0, index);                     // (heads, n, D)
        using var batched = Ops.Unsqueeze(one, 0);                       // (1, heads, n, D)
        var expanded = Ops.Expand(batched, batch, one.Shape[0], one.Shape[1], one.Shape[2]);   // (B, heads, n, D)
        owned.Add(expanded);
        return expanded;
    }
}
