namespace PeftEngine;

/// <summary>
/// Activation functions: relu, leaky relu, GELU (exact and tanh forms), SiLU, sigmoid, tanh and softplus.
/// Each is one elementwise kernel forward and one fused kernel backward (dx = dy · f'(x)).
/// </summary>
public static partial class Ops
{
    /// <summary>max(x, 0).</summary>
    /// <remarks>PyTorch: torch.relu. Backward: dx = dy where x &gt; 0, else 0 (also at x = 0).</remarks>
    public static Tensor Relu(Tensor x) => UnaryForward(UnaryOp.Relu, x);

    /// <summary>x where x &gt; 0, else negativeSlope · x.</summary>
    /// <remarks>PyTorch: torch.nn.functional.leaky_relu(x, negative_slope=0.01). Backward: dx = dy where x &gt; 0,
    /// else negativeSlope · dy.</remarks>
    public static Tensor LeakyRelu(Tensor x, double negativeSlope = 0.01) => UnaryForward(UnaryOp.LeakyRelu, x, negativeSlope);

    /// <summary>
    /// The Gaussian error linear unit x Φ(x), Φ the standard normal CDF. <paramref name="approximate"/> = "none"
    /// uses the exact Φ(x) = ½(1 + erf(x/√2)); "tanh" uses ½(1 + tanh(√(2/π)(x + 0.044715 x³))) (GPT-2's form).
    /// </summary>
    /// <remarks>PyTorch: torch.nn.functional.gelu(x, approximate='none'|'tanh').
    /// Backward (exact): dx = dy · (Φ(x) + x φ(x)), φ the standard normal density.</remarks>
    public static Tensor Gelu(Tensor x, string approximate = "none") => approximate switch
    {
        "none" => UnaryForward(UnaryOp.GeluErf, x),
        "tanh" => UnaryForward(UnaryOp.GeluTanh, x),
        _ => throw new ArgumentException($"Gelu: approximate must be \"none\" or \"tanh\", got \"{approximate}\"", nameof(approximate)),
    };

    /// <summary>SiLU (swish): x σ(x).</summary>
    /// <remarks>PyTorch: torch.nn.functional.silu. Backward: dx = dy · σ(x)(1 + x(1 − σ(x))).</remarks>
    public static Tensor Silu(Tensor x) => UnaryForward(UnaryOp.Silu, x);

    /// <summary>The logistic function σ(x) = 1 / (1 + e^−x).</summary>
    /// <remarks>PyTorch: torch.sigmoid. Backward: dx = dy · σ(x)(1 − σ(x)).</remarks>
    public static Tensor Sigmoid(Tensor x) => UnaryForward(UnaryOp.Sigmoid, x);

    /// <summary>The hyperbolic tangent.</summary>
    /// <remarks>PyTorch: torch.tanh. Backward: dx = dy · (1 − tanh² x).</remarks>
    public static Tensor Tanh(Tensor x) => UnaryForward(UnaryOp.Tanh, x);

    /// <summary>softplus(x) = (1/β) log(1 + e^(βx)), a smooth relu.</summary>
    /// <remarks>PyTorch: torch.nn.functional.softplus(x, beta). PyTorch switches to the identity above
    /// βx = threshold (20) to avoid overflow; here the formula max(z, 0) + log(1 + e^−|z|) never overflows, so
    /// there is no threshold (the two differ by less than 2e−9 there). Backward: dx = dy · σ(βx).</remarks>
    public static Tensor Softplus(Tensor x, double beta = 1)
    {
        if (!(beta > 0) || double.IsInfinity(beta))
            throw new ArgumentException($"Softplus: beta must be positive and finite, got {beta}", nameof(beta));
        if (beta == 1) return UnaryForward(UnaryOp.Softplus, x);
        using var bx = Mul(x, beta);
        using var s = UnaryForward(UnaryOp.Softplus, bx);
        return Mul(s, 1 / beta);
    }
}
