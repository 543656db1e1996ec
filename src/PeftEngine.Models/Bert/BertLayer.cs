using PeftEngine.IO;
using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>One BERT encoder layer (post-norm): h = attention(x) (with its residual LayerNorm), then
/// y = LayerNorm(dense(act(dense(h))) + h).</summary>
/// <remarks>HF: transformers.models.bert.modeling_bert.BertLayer (children attention, intermediate, output);
/// the paths of its Linear layers are <c>attention.self.query/key/value</c>, <c>attention.output.dense</c>,
/// <c>intermediate.dense</c> and <c>output.dense</c>.</remarks>
public sealed class BertLayer : Module
{
    /// <summary>Creates the layer.</summary>
    public BertLayer(BertConfig config, DType dtype = DType.F32, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        RegisterModule("attention", new BertAttention(config, dtype, generator));
        RegisterModule("intermediate", new BertIntermediate(config, dtype, generator));
        RegisterModule("output", new BertResidualOutput(config, config.IntermediateSize, dtype, generator));
    }

    /// <summary>x (B, T, C) -> (B, T, C) with no padding.</summary>
    public override Tensor Forward(Tensor x) => Forward(x, null);

    /// <summary>x (B, T, C) -> (B, T, C); <paramref name="additiveMask"/> (B, 1, 1, T) masks padded keys.</summary>
    /// <remarks>HF: BertLayer.forward(hidden_states, attention_mask).</remarks>
    public Tensor Forward(Tensor x, Tensor? additiveMask)
    {
        var attention = GetChild("attention");
        using var h = attention is BertAttention a ? a.Forward(x, additiveMask) : attention.Forward(x);
        using var inner = GetChild("intermediate").Forward(h);                 // (B, T, C) -> (B, T, I)
        return ((BertResidualOutput)GetChild("output")).Forward(inner, h);      // (B, T, I) -> (B, T, C)
    }
}
