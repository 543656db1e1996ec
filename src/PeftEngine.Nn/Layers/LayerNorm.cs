namespace PeftEngine.Nn;

/// <summary>Normalises the trailing dimensions to zero mean and unit variance, then applies a learned
/// elementwise scale (weight, ones) and shift (bias, zeros).</summary>
/// <remarks>PyTorch: torch.nn.LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True).</remarks>
public sealed class LayerNorm : Module
{
    /// <summary>Normalises over the last dimension of size <paramref name="dim"/>.</summary>
    public LayerNorm(int dim, double eps = 1e-5, bool elementwiseAffine = true, bool bias = true, DType dtype = DType.F32)
        : this([dim], eps, elementwiseAffine, bias, dtype) { }

    /// <summary>Normalises over the trailing dimensions <paramref name="normalizedShape"/>.</summary>
    public LayerNorm(int[] normalizedShape, double eps = 1e-5, bool elementwiseAffine = true, bool bias = true, DType dtype = DType.F32)
    {
        if (normalizedShape.Length == 0 || normalizedShape.Any(d => d <= 0))
            throw new ArgumentException($"LayerNorm: normalized shape [{string.Join(", ", normalizedShape)}] must be non-empty and positive");
        NormalizedShape = (int[])normalizedShape.Clone();
        Eps = eps;
        var shape = new Shape(NormalizedShape);
        RegisterParameter("weight", elementwiseAffine ? new Parameter(Tensor.Ones(shape, dtype)) : null);
        RegisterParameter("bias", elementwiseAffine && bias ? new Parameter(Tensor.Zeros(shape, dtype)) : null);
    }

    /// <summary>The trailing dimensions normalised.</summary>
    public int[] NormalizedShape { get; }

    /// <summary>Added to the variance before the square root.</summary>
    public double Eps { get; }

    /// <summary>The scale, or null without affine parameters.</summary>
    public Parameter? Weight => GetParameter("weight");

    /// <summary>The shift, or null.</summary>
    public Parameter? Bias => GetParameter("bias");

    /// <inheritdoc/>
    /// <remarks>A bf16/f16 weight, bias or input is computed in f32 (see <see cref="HalfPrecision"/>).</remarks>
    public override Tensor Forward(Tensor x)
    {
        var dtype = HalfPrecision.Compute(x.DType);
        using var xc = HalfPrecision.CastIfNeeded(x, dtype);
        using var w = HalfPrecision.CastIfNeeded(Weight?.Data, dtype);
        using var b = HalfPrecision.CastIfNeeded(Bias?.Data, dtype);
        return Ops.LayerNorm(xc ?? x, NormalizedShape, w ?? Weight?.Data, b ?? Bias?.Data, Eps);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"({string.Join(", ", NormalizedShape)}), eps={Eps}";
}
