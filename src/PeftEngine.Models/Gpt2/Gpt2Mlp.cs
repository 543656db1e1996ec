using PeftEngine.IO;
using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>GPT-2's feed-forward layer: Conv1D C -> n_inner, the activation (gelu_new by default), Conv1D back to C,
/// then dropout.</summary>
/// <remarks>HF: transformers.models.gpt2.modeling_gpt2.GPT2MLP (children c_fc, c_proj, act, dropout).</remarks>
public sealed class Gpt2Mlp : Module
{
    /// <summary>Creates the layer for a model with <paramref name="config"/>.</summary>
    public Gpt2Mlp(Gpt2Config config, DType dtype = DType.F32, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        RegisterModule("c_fc", new Conv1D(config.IntermediateSize, config.HiddenSize, dtype, generator));
        RegisterModule("c_proj", new Conv1D(config.HiddenSize, config.IntermediateSize, dtype, generator));
        RegisterModule("act", new Activation(Activation.Parse(config.HiddenAct)));
        RegisterModule("dropout", new Dropout(config.ResidPdrop, generator));
    }

    /// <summary>(B, T, C) -> (B, T, C).</summary>
    public override Tensor Forward(Tensor x)
    {
        using var hidden = GetChild("c_fc").Forward(x);          // (B, T, C) -> (B, T, n_inner)
        using var activated = GetChild("act").Forward(hidden);
        using var projected = GetChild("c_proj").Forward(activated);   // (B, T, n_inner) -> (B, T, C)
        return GetChild("dropout").Forward(projected);
    }
}
