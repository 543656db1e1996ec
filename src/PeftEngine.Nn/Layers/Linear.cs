namespace PeftEngine.Nn;

/// <summary>A fully connected layer y = x · Wᵀ + b with W shaped (out, in).</summary>
/// <remarks>PyTorch: torch.nn.Linear(in_features, out_features, bias). Initialisation as PyTorch:
/// W ~ kaiming_uniform(a = √5), i.e. U(−1/√in, 1/√in), and b ~ U(−1/√in, 1/√in).</remarks>
public sealed class Linear : Module
{
    /// <summary>Creates the layer with freshly initialised weights.</summary>
    public Linear(int inFeatures, int outFeatures, bool bias = true, DType dtype = DType.F32, Generator? generator = null)
    {
        if (inFeatures <= 0 || outFeatures <= 0)
            throw new ArgumentException($"Linear: features must be positive, got in={inFeatures}, out={outFeatures}");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        var w = Tensor.Empty(new Shape(outFeatures, inFeatures), dtype);
        Init.KaimingUniform(w, a: Math.Sqrt(5), generator: generator);
        RegisterParameter("weight", w);
        Tensor? b = null;
        if (bias)
        {
            b = Tensor.Empty(new Shape(outFeatures), dtype);
            double bound = 1 / Math.Sqrt(inFeatures);
            Init.Uniform(b, -bound, bound, generator);
        }
        RegisterParameter("bias", b is null ? null : new Parameter(b));
    }

    /// <summary>Input features.</summary>
    public int InFeatures { get; }

    /// <summary>Output features.</summary>
    public int OutFeatures { get; }

    /// <summary>The weight (out, in).</summary>
    public Parameter Weight => GetParameter("weight")!;

    /// <summary>The bias (out), or null.</summary>
    public Parameter? Bias => GetParameter("bias");

    /// <summary>(…, in) -> (…, out).</summary>
    /// <remarks>A bf16/f16 weight stays 16-bit (the GEMM widens it); a 16-bit bias or input is cast to f32
    /// (see <see cref="HalfPrecision"/>).</remarks>
    public override Tensor Forward(Tensor x)
    {
        var dtype = HalfPrecision.Compute(x.DType);
        using var xc = HalfPrecision.CastIfNeeded(x, dtype);
        using var b = HalfPrecision.CastIfNeeded(Bias?.Data, dtype);
        return Ops.Linear(xc ?? x, Weight, b ?? Bias?.Data);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"in_features={InFeatures}, out_features={OutFeatures}, bias={Bias is not null}";
}
