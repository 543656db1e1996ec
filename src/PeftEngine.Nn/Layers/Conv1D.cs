namespace PeftEngine.Nn;

/// <summary>
/// GPT-2's "Conv1D": a fully connected layer whose weight is stored transposed, (in, out), so y = x · W + b.
/// Kept as its own class so GPT-2 checkpoints load without transposing and PEFT can tell the layouts apart.
/// </summary>
/// <remarks>HF: transformers.pytorch_utils.Conv1D(nf = out, nx = in); weight ~ N(0, 0.02²), bias zero.</remarks>
public sealed class Conv1D : Module
{
    /// <summary>Creates the layer with GPT-2's initialisation.</summary>
    public Conv1D(int outFeatures, int inFeatures, DType dtype = DType.F32, Generator? generator = null)
    {
        if (inFeatures <= 0 || outFeatures <= 0)
            throw new ArgumentException($"Conv1D: features must be positive, got nf={outFeatures}, nx={inFeatures}");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        var w = Tensor.Empty(new Shape(inFeatures, outFeatures), dtype);
        Init.Normal(w, 0, 0.02, generator);
        RegisterParameter("weight", w);
        RegisterParameter("bias", Tensor.Zeros(new Shape(outFeatures), dtype));
    }

    /// <summary>Input features (HF nx).</summary>
    public int InFeatures { get; }

    /// <summary>Output features (HF nf).</summary>
    public int OutFeatures { get; }

    /// <summary>The weight (in, out).</summary>
    public Parameter Weight => GetParameter("weight")!;

    /// <summary>The bias (out).</summary>
    public Parameter Bias => GetParameter("bias")!;

    /// <summary>(…, in) -> (…, out).</summary>
    public override Tensor Forward(Tensor x)
    {
        using var wt = Ops.Transpose(Weight, 0, 1);   // (in, out) -> (out, in) view
        var dtype = HalfPrecision.Compute(x.DType);   // 16-bit bias or input: f32 (see HalfPrecision)
        using var xc = HalfPrecision.CastIfNeeded(x, dtype);
        using var b = HalfPrecision.CastIfNeeded(Bias.Data, dtype);
        return Ops.Linear(xc ?? x, wt, b ?? Bias.Data);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"nf={OutFeatures}, nx={InFeatures}";
}
