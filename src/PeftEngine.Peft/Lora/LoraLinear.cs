// LoRA on a fully connected layer (Hu et al., ICLR 2022): y = x·Wᵀ + b + s·(dropout(x)·Aᵀ)·Bᵀ, ΔW = s·B·A (out, in).
// For GPT-2's Conv1D the base weight is stored (in, out) (fan_in_fan_out), so ΔW is added transposed; A and B keep
// their (r, in) / (out, r) shapes, as in HF files. On a frozen 4-bit base (QLoRA, Dettmers et al. 2023,
// arXiv 2305.14314) the base product runs on the 4-bit weight and only A and B train; merging dequantizes, adds ΔW
// and quantizes again.

using PeftEngine.Nn;
using PeftEngine.Peft.Tuners;
using PeftEngine.Quant;

namespace PeftEngine.Peft.Lora;

/// <summary>LoRA around a <see cref="Linear"/>, a GPT-2 <see cref="Conv1D"/> or a 4-bit <see cref="Linear4Bit"/>;
/// supports DoRA and lora_bias.</summary>
/// <remarks>HF: peft.tuners.lora.layer.Linear (lora_A = Linear(in, r, bias=False), lora_B = Linear(r, out,
/// bias=lora_bias)).</remarks>
public sealed class LoraLinear : LoraLayer
{
    /// <summary>Wraps <paramref name="baseLayer"/> (a Linear or Conv1D).</summary>
    public LoraLinear(Module baseLayer, PeftRuntime runtime) : base(baseLayer, runtime)
    {
        switch (baseLayer)
        {
            case Linear l: (InFeatures, OutFeatures, FanInFanOut) = (l.InFeatures, l.OutFeatures, false); break;
            case Conv1D c: (InFeatures, OutFeatures, FanInFanOut) = (c.InFeatures, c.OutFeatures, true); break;
            case IQuantizedLinear q: (InFeatures, OutFeatures, FanInFanOut) = (q.InFeatures, q.OutFeatures, false); break;
            default: throw new ArgumentException($"LoraLinear: expected Linear, Conv1D or a quantized linear layer (Linear4Bit, GgufLinear), got {baseLayer.GetType().Name}");
        }
    }

    /// <summary>Input features.</summary>
    public int InFeatures { get; }

    /// <summary>Output features.</summary>
    public int OutFeatures { get; }

    /// <summary>True when the base weight is stored (in, out) (Conv1D).</summary>
    public bool FanInFanOut { get; }

    /// <inheritdoc/>
    protected override Parameter BaseWeight => BaseLayer switch
    {
        Linear l => l.Weight,
        Conv1D c => c.Weight,
        _ => throw new InvalidOperationException("LoraLinear: a 4-bit base has no F32 weight parameter; it is read by dequantizing"),
    };

    /// <inheritdoc/>
    protected override Parameter? BaseBias => BaseLayer switch
    {
        Linear l => l.Bias,
        Conv1D c => c.Bias,
        IQuantizedLinear q => q.Bias,
        _ => null,
    };

    /// <summary>True when the base layer is a frozen quantized layer (<see cref="Linear4Bit"/>, QLoRA, or a packed <see cref="GgufLinear"/>).</summary>
    public bool IsQuantizedBase => BaseLayer is IQuantizedLinear;

    /// <inheritdoc/>
    protected override Tensor ReadBaseWeight() => BaseLayer is IQuantizedLinear q ? q.Dequantize() : base.ReadBaseWeight();

    /// <inheritdoc/>
    protected override void WriteBaseWeight(Tensor weight)
    {
        if (BaseLayer is IQuantizedLinear q) q.Requantize(weight);
        else base.WriteBaseWeight(weight);
    }

    /// <inheritdoc/>
    protected override bool SupportsDora => true;

    /// <inheritdoc/>
    protected override void InitializeFromWeight(string adapter, int r, double scaling, LoraConfig config, Generator? generator)
    {
        if (config.InitLoraWeights is LoraInit.Pissa or LoraInit.Loftq) LoraWeightInit.Apply(this, adapter, r, scaling, config, generator);
    }

    internal override int OutputDim => FanInFanOut ? 1 : 0;

    internal override Tensor BaseWeightOutIn()
    {
        using var _ = GradMode.Disable();
        if (BaseLayer is IQuantizedLinear q) return q.Dequantize();                                   // (out, in) f32
        using var w = FanInFanOut ? Ops.Transpose(BaseWeight, 0, 1) : BaseWeight.Data.Alias();   // (in, out) -> (out, in)
        return w.DType == DType.F32 ? Ops.Contiguous(w) : Ops.Cast(w, DType.F32);
    }

    internal override (Parameter A, Parameter B) Factors(string adapter) => (A(adapter).Weight, B(adapter).Weight);

    private Linear A(string adapter) => (Linear)LoraA[adapter];

    private Linear B(string adapter) => (Linear)LoraB[adapter];

    /// <inheritdoc/>
    protected override void CreateFactors(string adapter, int r, LoraConfig config, Generator? generator)
    {
        var a = new Linear(InFeatures, r, bias: false, DType.F32, generator);   // kaiming-uniform(a = √5)
        var b = new Linear(r, OutFeatures, bias: config.LoraBias, DType.F32, generator);
        using (GradMode.Disable())
        {
            if (config.InitLoraWeights == LoraInit.Gaussian) Init.Normal(a.Weight, 0, 1.0 / r, generator);
            if (config.InitLoraWeights != LoraInit.Random)
            {
                Ops.FillInPlace(b.Weight, 0);
                if (b.Bias is { } bb) Ops.FillInPlace(bb, 0);
            }
        }
        LoraA.Add(adapter, a);
        LoraB.Add(adapter, b);
    }

    /// <inheritdoc/>
    public override Tensor DeltaWeight(string adapter)
    {
        using var _ = GradMode.Disable();
        using var ba = Ops.MatMul(B(adapter).Weight, A(adapter).Weight);   // (out, r) · (r, in) -> (out, in)
        using var scaled = Ops.Mul(ba, Scaling[adapter]);
        if (!FanInFanOut) return scaled.Alias();
        using var t = Ops.Transpose(scaled, 0, 1);                        // (out, in) -> (in, out)
        return Ops.Contiguous(t);
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
        using var h = A(adapter).Forward(dropped);          // (..., in) -> (..., r)
        using var o = B(adapter).Forward(h);                // (..., r) -> (..., out)
        return Ops.Mul(o, Scaling[adapter]);
    }

    // x·Wᵀ without bias, F32
    private Tensor BaseProduct(Tensor x)
    {
        using var w = BaseWeightOutIn();    // (out, in)
        return Ops.Linear(x, w);
    }

    /// <inheritdoc/>
    protected override Tensor AddAdapterOutput(Tensor x, Tensor result, string adapter) =>
        UseDora[adapter]
            ? DoraMath.Forward(this, x, result, adapter, d => Branch(d, adapter), BaseProduct, BaseBias)
            : base.AddAdapterOutput(x, result, adapter);
}
