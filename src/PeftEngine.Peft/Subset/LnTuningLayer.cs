// LN tuning (Zhao et al., "Tuning LayerNorm in Attention: Towards Efficient Multi-Modal LLM Finetuning", ICLR 2024,
// arXiv 2312.11420): only the normalisation layers train. For a LayerNorm / RMSNorm target
//
//     y = γ_a ⊙ (x − μ) / σ + β_a        (LayerNorm)      y = γ_a ⊙ x / rms(x)        (RMSNorm)
//
// with a trainable copy (γ_a, β_a) of the module's parameters per adapter; the base (γ, β) stay frozen.

using PeftEngine.Nn;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Subset;

/// <summary>LN tuning on one module: a trainable F32 copy of the whole module per adapter, run in its place; one
/// adapter at a time, as HF allows.</summary>
/// <remarks>HF: peft.tuners.ln_tuning.layer.LNTuningLayer (children <c>base_layer</c> and <c>ln_tuning_layers</c>, a
/// ModuleDict of deep copies; file keys <c>…input_layernorm.ln_tuning_layers.weight</c>).</remarks>
public sealed class LnTuningLayer : ParameterSubsetLayer
{
    /// <summary>Wraps <paramref name="baseLayer"/>, which this layer now owns.</summary>
    public LnTuningLayer(Module baseLayer, PeftRuntime runtime) : base(baseLayer, runtime, "ln_tuning_layers") { }

    /// <inheritdoc/>
    protected override bool AllowsSeveralAdapters => false;

    /// <summary>Adds a copy of the base module for <paramref name="adapter"/>: exact, or, when
    /// <paramref name="initExact"/> is false, with N(0, 0.1²) noise added to every parameter (a testing aid).</summary>
    public void AddAdapter(string adapter, bool initExact, Generator? generator)
    {
        var copy = ModuleCloner.Clone(BaseLayer);
        if (!initExact)
            using (GradMode.Disable())
                foreach (var p in copy.Parameters())
                {
                    using var noise = Tensor.Randn(p.Shape, generator);
                    using var scaled = Ops.Mul(noise, 0.1);
                    Ops.AddInPlace(p, scaled);
                }
        copy.RequiresGrad(true);
        AddCopies(adapter, copy);
    }

    /// <inheritdoc/>
    protected override IEnumerable<(Parameter Base, Parameter Tuned)> Pairs(string adapter)
    {
        var tuned = Copies[adapter].NamedParameters().ToDictionary(np => np.Name, np => np.Parameter);
        return BaseLayer.NamedParameters().Select(np => (np.Parameter, tuned[np.Name])).ToList();
    }

    /// <inheritdoc/>
    protected override Tensor AdaptedForward(Tensor x, IReadOnlyList<string> adapters)
    {
        var copy = Copies[adapters[0]];
        var baseType = BaseLayer.Parameters().FirstOrDefault()?.DType ?? DType.F32;
        using var input = x.DType.IsFloat() ? MaybeOwned.Cast(x, DType.F32) : new MaybeOwned(x, false);
        var y = copy.Forward(input.Value);
        if (y.DType == baseType || !y.DType.IsFloat()) return y;
        using (y) return Ops.Cast(y, baseType);
    }
}
