using PeftEngine.IO;
using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>BERT's attention block: self-attention (<c>self</c>) followed by its residual output
/// (<c>output</c>: dense, dropout, LayerNorm of the sum with the input).</summary>
/// <remarks>HF: transformers.models.bert.modeling_bert.BertAttention (children self, output).</remarks>
public sealed class BertAttention : Module
{
    /// <summary>Creates the block.</summary>
    public BertAttention(BertConfig config, DType dtype = DType.F32, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        RegisterModule("self", new BertSelfAttention(config, dtype, generator));
        RegisterModule("output", new BertResidualOutput(config, config.HiddenSize, dtype, generator));
    }

    /// <summary>x (B, T, C) -> (B, T, C) with no padding.</summary>
    public override Tensor Forward(Tensor x) => Forward(x, null);

    /// <summary>x (B, T, C) -> (B, T, C); <paramref name="additiveMask"/> as for <see cref="BertSelfAttention"/>.</summary>
    public Tensor Forward(Tensor x, Tensor? additiveMask)
    {
        var self = GetChild("self");
        using var attended = self is BertSelfAttention s ? s.Forward(x, additiveMask) : self.Forward(x);
        return ((BertResidualOutput)GetChild("output")).Forward(attended, x);
    }
}
