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
    public override Tensor Forward(Tensor x) => Ops.RmsNorm(x, Weight, Eps);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"({Dim},), eps={Eps}";
}
