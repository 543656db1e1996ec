using PeftEngine.IO;
using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>The expansion half of BERT's feed-forward network: act(dense(x)), C -> intermediate_size, with
/// act = hidden_act (GELU with erf for BERT and MiniLM).</summary>
/// <remarks>HF: transformers.models.bert.modeling_bert.BertIntermediate (child dense; ACT2FN[hidden_act]).</remarks>
public sealed class BertIntermediate : Module
{
    /// <summary>Creates the layer.</summary>
    public BertIntermediate(BertConfig config, DType dtype = DType.F32, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        Activation = Nn.Activation.Parse(config.HiddenAct);
        RegisterModule("dense", BertModel.NewLinear(config.HiddenSize, config.IntermediateSize, dtype, generator));
    }

    /// <summary>The nonlinearity after the dense layer.</summary>
    public ActivationKind Activation { get; }

    /// <summary>(B, T, C) -> (B, T, intermediate_size).</summary>
    public override Tensor Forward(Tensor x)
    {
        using var projected = GetChild("dense").Forward(x);
        return Nn.Activation.Apply(Activation, projected);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"act={Activation}";
}
