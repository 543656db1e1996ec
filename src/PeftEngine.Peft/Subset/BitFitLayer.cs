// BitFit (Ben Zaken, Ravfogel, Goldberg, "BitFit: Simple Parameter-efficient Fine-tuning for Transformer-based Masked
// Language-models", ACL 2022, arXiv 2106.10199): only the bias terms train. For a target with weight W and bias b,
//
//     y = x·Wᵀ + b_a = base(x) + (b_a − b)
//
// with a trainable copy b_a of b per adapter (b itself stays frozen, so disabling gives the base model). Several
// active adapters add their shifts: y = base(x) + Σ_a (b_a − b).

using PeftEngine.Nn;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Subset;

/// <summary>A module holding one parameter named <c>bias</c> (BitFit's per-adapter copy).</summary>
public sealed class BiasHolder : Module
{
    /// <summary>Takes ownership of <paramref name="bias"/>.</summary>
    public BiasHolder(Tensor bias) => RegisterParameter("bias", bias);

    /// <summary>The tuned bias.</summary>
    public Parameter Bias => GetParameter("bias")!;
}

/// <summary>BitFit on one module: a trainable F32 copy of its bias per adapter.</summary>
/// <remarks>HF PEFT has no BitFit; LoRA's <c>bias="all"</c> trains the base biases themselves (one adapter only). Here
/// each adapter has its own copy under <c>bitfit.&lt;adapter&gt;.bias</c>, saved under the base model's own bias key
/// (<c>base_model.model.&lt;path&gt;.bias</c>).</remarks>
public sealed class BitFitLayer : ParameterSubsetLayer
{
    /// <summary>Wraps <paramref name="baseLayer"/>, which this layer now owns.</summary>
    public BitFitLayer(Module baseLayer, PeftRuntime runtime) : base(baseLayer, runtime, "bitfit")
    {
        if (BaseBias(baseLayer) is null)
            throw new ArgumentException($"BitFit: a {baseLayer.GetType().Name} without a bias cannot be adapted");
    }

    /// <summary>The bias of a module BitFit can adapt (Linear, Conv1D, LayerNorm, Conv1d, Conv2d, a quantized linear
    /// layer), or null.</summary>
    public static Parameter? BaseBias(Module module) => module switch
    {
        Linear l => l.Bias,
        Conv1D c => c.Bias,
        LayerNorm n => n.Bias,
        Conv1d c => c.Bias,
        Conv2d c => c.Bias,
        Quant.IQuantizedLinear q => q.Bias,   // a 4-bit base keeps its bias in F32
        _ => null,
    };

    private Parameter Bias => BaseBias(BaseLayer)!;

    /// <summary>Adds the bias copy of <paramref name="adapter"/>: exact, or, when <paramref name="initExact"/> is false,
    /// with N(0, 0.1²) noise added (a testing aid).</summary>
    public void AddAdapter(string adapter, bool initExact, Generator? generator)
    {
        using var _ = GradMode.Disable();
        var copy = Ops.Cast(Bias, DType.F32);
        if (!initExact)
        {
            using var noise = Tensor.Randn(copy.Shape, generator);
            using var scaled = Ops.Mul(noise, 0.1);
            Ops.AddInPlace(copy, scaled);
        }
        AddCopies(adapter, new BiasHolder(copy));
    }

    /// <inheritdoc/>
    protected override IEnumerable<(Parameter Base, Parameter Tuned)> Pairs(string adapter) =>
        [(Bias, ((BiasHolder)Copies[adapter]).Bias)];

    /// <inheritdoc/>
    protected override Tensor AdaptedForward(Tensor x, IReadOnlyList<string> adapters)
    {
        using var baseBias = Ops.Cast(Bias, DType.F32);
        Tensor? shift = null;
        foreach (var a in adapters)
        {
            var d = Ops.Sub(((BiasHolder)Copies[a]).Bias, baseBias);   // b_a − b, (n)
            if (shift is null) { shift = d; continue; }
            using (d)
            using (var old = shift)
                shift = Ops.Add(old, d);
        }
        using var s = shift!;
        // the bias runs along the last dim (Linear, Conv1D, LayerNorm) or the channel dim 1 (Conv1d, Conv2d)
        using var shaped = BaseLayer switch
        {
            Conv1d => Ops.Reshape(s, s.Shape[0], 1),                    // (n) -> (n, 1)
            Conv2d => Ops.Reshape(s, s.Shape[0], 1, 1),                 // (n) -> (n, 1, 1)
            _ => Ops.Reshape(s, s.Shape[0]),
        };
        var result = BaseLayer.Forward(x);
        using (result)
        using (var cast = MaybeOwned.Cast(shaped, result.DType))
            return Ops.Add(result, cast.Value);
    }
}
