namespace PeftEngine.Nn;

/// <summary>Scales each vector (last dimension) to unit root-mean-square, then by a learned weight (ones).</summary>
/// <remarks>PyTorch: torch.nn.RMSNorm(dim, eps); HF: LlamaRMSNorm (eps 1e-6, parameter "weight").</remarks>
public sealed class RmsNorm : Module
{
    /// <summary>Creates the layer for vectors of length <paramref name="dim"/>.</summary>
    public RmsNorm(int dim, double eps = 1e-6, DType dtype = DType.F32)
    {
        if (dim <= 0) throw new ArgumentException($"RmsNorm: dimension must be positive, got {dim}");
        Dim = dim;
        Eps = eps;
        RegisterParameter("weight", Tensor.Ones(new Shape(dim), dtype));
    }

    /// <summary>Length of the normalised vectors.</summary>
    public int Dim { get; }

    /// <summary>Added to the mean square before the square root.</summary>
    public double Eps { get; }

    /// <summary>The scale (dim).</summary>
    public Parameter Weight => GetParameter("weight")!;

    /// <inheritdoc/>
    /// <remarks>A bf16/f16 weight or input is computed in f32 (see <see cref="HalfPrecision"/>).</remarks>
    public override Tensor Forward(Tensor x)
    {
        var dtype = HalfPrecision.Compute(x.DType);
        using var xc = HalfPrecision.CastIfNeeded(x, dtype);
        using var w = HalfPrecision.CastIfNeeded(Weight, dtype);
        return Ops.RmsNorm(xc ?? x, w ?? Weight.Data, Eps);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"({Dim},), eps={Eps}";
}
