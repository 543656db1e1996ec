using PeftEngine.IO;
using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>
/// The "output" sub-layer BERT places after attention and after the feed-forward expansion: a Linear (dense),
/// dropout, then LayerNorm of the sum with the sub-layer's input (post-norm residual).
/// y = LayerNorm(dropout(dense(h)) + residual).
/// </summary>
/// <remarks>HF: BertSelfOutput (at <c>attention.output</c>, in = out = hidden_size) and BertOutput (at
/// <c>output</c>, in = intermediate_size); both have children dense, LayerNorm, dropout.</remarks>
public sealed class BertResidualOutput : Module
{
    /// <summary>Creates the sub-layer mapping <paramref name="inFeatures"/> to hidden_size.</summary>
    public BertResidualOutput(BertConfig config, int inFeatures, DType dtype = DType.F32, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        RegisterModule("dense", BertModel.NewLinear(inFeatures, config.HiddenSize, dtype, generator));
        RegisterModule("LayerNorm", new LayerNorm(config.HiddenSize, config.LayerNormEps, dtype: dtype));
        RegisterModule("dropout", new Dropout(config.HiddenDropoutProb, generator));
    }

    /// <summary>Not usable alone: the residual input is required.</summary>
    public override Tensor Forward(Tensor x) =>
        throw new NotSupportedException("BertResidualOutput needs the residual input: call Forward(hidden, residual)");

    /// <summary>hidden (B, T, in) and residual (B, T, C) -> (B, T, C).</summary>
    /// <remarks>HF: BertSelfOutput.forward(hidden_states, input_tensor) / BertOutput.forward(...).</remarks>
    public Tensor Forward(Tensor hidden, Tensor residual)
    {
        using var projected = GetChild("dense").Forward(hidden);      // (B, T, in) -> (B, T, C)
        using var dropped = GetChild("dropout").Forward(projected);
        using var summed = Ops.Add(dropped, residual);
        return GetChild("LayerNorm").Forward(summed);
    }
}
