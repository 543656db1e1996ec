// LoRA on a convolution (Hu et al., ICLR 2022, as HF extends it): A is a convolution with the base layer's kernel,
// stride and padding (C -> r channels), B a 1×1 convolution (r -> O channels):
//
//     y = conv(x, W) + b + s · conv1×1(conv(dropout(x), A), B),   ΔW[o, c, k…] = s · Σ_r B[o, r] · A[r, c, k…]
//
// DoRA (HF's _DoraConvNdLayer): the norm of W + ΔW runs over every dimension except the output channel, and the
// magnitude is stored (1, O, 1…) so that it scales the (N, O, …) output per channel (see DoraMath).

using PeftEngine.Nn;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Lora;

/// <summary>LoRA around a <see cref="Conv1d"/> or <see cref="Conv2d"/> (groups = 1, dilation = 1); supports DoRA.</summary>
/// <remarks>HF: peft.tuners.lora.layer.Conv1d / Conv2d (lora_A = Conv(in, r, kernel, stride, padding, bias=False),
/// lora_B = Conv(r, out, 1, 1, bias=lora_bias)).</remarks>
public sealed class LoraConv : LoraLayer
{
    /// <summary>Wraps <paramref name="baseLayer"/> (a Conv1d or Conv2d).</summary>
    public LoraConv(Module baseLayer, PeftRuntime runtime) : base(baseLayer, runtime)
    {
        bool plain = baseLayer switch
        {
            Conv1d c => c.Groups == 1 && c.Dilation == 1,
            Conv2d c => c.Groups == 1 && c.Dilation == (1, 1),
            _ => throw new ArgumentException($"LoraConv: expected Conv1d or Conv2d, got {baseLayer.GetType().Name}"),
        };
        if (!plain) throw new NotSupportedException($"LoraConv: only groups = 1 and dilation = 1 are supported ({baseLayer.GetType().Name})");
    }

    /// <inheritdoc/>
    protected override Parameter BaseWeight => BaseLayer is Conv1d c ? c.Weight : ((Conv2d)BaseLayer).Weight;

    /// <inheritdoc/>
    protected override Parameter? BaseBias => BaseLayer is Conv1d c ? c.Bias : ((Conv2d)BaseLayer).Bias;

    internal override int OutputDim => 0;

    internal override int WeightRank => BaseWeight.Shape.Rank;

    /// <inheritdoc/>
    protected override bool SupportsDora => true;

    internal override Tensor BaseWeightOutIn()
    {
        using var _ = GradMode.Disable();
        using var w = ReadBaseWeight();                 // (O, C, k…) f32
        using var flat = DoraMath.AsOutIn(this, w);     // -> (O, C·k…)
        return Ops.Contiguous(flat);
    }

    /// <inheritdoc/>
    protected override void CreateFactors(string adapter, int r, LoraConfig config, Generator? generator)
    {
        var w = BaseWeight.Shape;   // (O, C, k) or (O, C, kh, kw)
        Module a, b;
        if (BaseLayer is Conv1d c1)
        {
            a = new Conv1d(w[1], r, w[2], c1.Stride, c1.Padding, bias: false, generator: generator);
            b = new Conv1d(r, w[0], 1, bias: config.LoraBias, generator: generator);
        }
        else
        {
            var c2 = (Conv2d)BaseLayer;
            a = new Conv2d(w[1], r, (w[2], w[3]), c2.Stride, c2.Padding, bias: false, generator: generator);
            b = new Conv2d(r, w[0], (1, 1), bias: config.LoraBias, generator: generator);
        }
        using (GradMode.Disable())
        {
            if (config.InitLoraWeights == LoraInit.Gaussian) Init.Normal(Weight(a), 0, 1.0 / r, generator);
            if (config.InitLoraWeights != LoraInit.Random)
                foreach (var p in b.Parameters()) Ops.FillInPlace(p, 0);
        }
        LoraA.Add(adapter, a);
        LoraB.Add(adapter, b);
    }

    internal override (Parameter A, Parameter B) Factors(string adapter) => (Weight(LoraA[adapter]), Weight(LoraB[adapter]));

    private static Parameter Weight(Module conv) => conv is Conv1d c ? c.Weight : ((Conv2d)conv).Weight;

    /// <inheritdoc/>
    public override Tensor DeltaWeight(string adapter)
    {
        using var _ = GradMode.Disable();
        var shape = BaseWeight.Shape.ToArray();
        Tensor a = Weight(LoraA[adapter]), b = Weight(LoraB[adapter]);
        int r = a.Shape[0];
        using var b2 = Ops.Reshape(b, shape[0], r);                  // (O, r, 1…) -> (O, r)
        using var a2 = Ops.Reshape(a, r, (int)(a.Numel / r));        // (r, C, k…) -> (r, C·k…)
        using var ba = Ops.MatMul(b2, a2);                            // (O, C·k…)
        using var scaled = Ops.Mul(ba, Scaling[adapter]);
        return Ops.Reshape(scaled, shape);                            // -> (O, C, k…)
    }

    /// <inheritdoc/>
    protected override Tensor LoraOutput(Tensor x, string adapter)
    {
        using var xf = MaybeOwned.Cast(x, DType.F32);
        using var dropped = LoraDropout[adapter].Forward(xf.Value);
        return Branch(dropped, adapter);
    }

    private Tensor Branch(Tensor dropped, string adapter)
    {
        using var h = LoraA[adapter].Forward(dropped);   // (N, C, …) -> (N, r, …)
        using var o = LoraB[adapter].Forward(h);         // (N, r, …) -> (N, O, …)
        return Ops.Mul(o, Scaling[adapter]);
    }

    // conv(x, W) without bias, F32, with the base layer's stride and padding
    private Tensor BaseProduct(Tensor x)
    {
        using var w = MaybeOwned.Cast(BaseWeight.Data, DType.F32);
        return BaseLayer is Conv1d c
            ? Convolution.Conv1d(x, w.Value, null, c.Stride, c.Padding)
            : Convolution.Conv2d(x, w.Value, null, ((Conv2d)BaseLayer).Stride, ((Conv2d)BaseLayer).Padding);
    }

    /// <inheritdoc/>
    protected override Tensor AddAdapterOutput(Tensor x, Tensor result, string adapter) =>
        UseDora[adapter]
            ? DoraMath.Forward(this, x, result, adapter, d => Branch(d, adapter), BaseProduct, BaseBias)
            : base.AddAdapterOutput(x, result, adapter);
}
