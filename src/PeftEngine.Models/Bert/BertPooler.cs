using PeftEngine.IO;
using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>BERT's pooler: tanh(dense(h[:, 0])), the hidden state of the first ([CLS]) token through a Linear
/// layer and tanh. Maps (B, T, C) to (B, C).</summary>
/// <remarks>HF: transformers.models.bert.modeling_bert.BertPooler (child dense, activation tanh).</remarks>
public sealed class BertPooler : Module
{
    /// <summary>Creates the pooler.</summary>
    public BertPooler(BertConfig config, DType dtype = DType.F32, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        RegisterModule("dense", BertModel.NewLinear(config.HiddenSize, config.HiddenSize, dtype, generator));
    }

    /// <summary>(B, T, C) -> (B, C).</summary>
    public override Tensor Forward(Tensor hidden)
    {
        if (hidden.Rank != 3)
            throw new ArgumentException($"BertPooler: input must be (B, T, C), got {hidden.Shape}");
        using var first = Ops.Select(hidden, 1, 0);                // (B, T, C) -> (B, C)
        using var projected = GetChild("dense").Forward(first);    // (B, C) -> (B, C)
        return Ops.Tanh(projected);
    }
}
