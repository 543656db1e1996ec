namespace PeftEngine;

/// <summary>
/// Elementwise math functions: exponentials and logarithms, roots, powers, trigonometry, clamping and the
/// elementwise maximum/minimum of two tensors (with broadcasting).
/// </summary>
/// <remarks>
/// One-input functions run through one fused backward kernel each (dx = dy · f'(x), see
/// <see cref="IBackend.UnaryBackward"/>). Two-input functions (Pow, Maximum, Minimum) compute both partial
/// derivatives in one <see cref="IBackend.BinaryBackward"/> call, only for the inputs that need them, in the
/// broadcast shape; the engine sums them down to each input's shape.
/// </remarks>
public static partial class Ops
{
    /// <summary>e^x.</summary>
    /// <remarks>PyTorch: torch.exp. Backward: dx = dy · e^x.</remarks>
    public static Tensor Exp(Tensor x) => UnaryForward(UnaryOp.Exp, x);

    /// <summary>The natural logarithm ln x (NaN for x &lt; 0, −∞ at 0).</summary>
    /// <remarks>PyTorch: torch.log. Backward: dx = dy / x.</remarks>
    public static Tensor Log(Tensor x) => UnaryForward(UnaryOp.Log, x);

    /// <summary>√x.</summary>
    /// <remarks>PyTorch: torch.sqrt. Backward: dx = dy / (2√x).</remarks>
    public static Tensor Sqrt(Tensor x) => UnaryForward(UnaryOp.Sqrt, x);

    /// <summary>1/√x.</summary>
    /// <remarks>PyTorch: torch.rsqrt. Backward: dx = −dy / (2 x√x).</remarks>
    public static Tensor Rsqrt(Tensor x) => UnaryForward(UnaryOp.Rsqrt, x);

    /// <summary>|x|.</summary>
    /// <remarks>PyTorch: torch.abs. Backward: dx = dy · sign(x), so 0 at x = 0.</remarks>
    public static Tensor Abs(Tensor x) => UnaryForward(UnaryOp.Abs, x);

    /// <summary>sign(x): −1, 0 or 1 (NaN stays NaN).</summary>
    /// <remarks>PyTorch: torch.sign. The gradient is 0 everywhere.</remarks>
    public static Tensor Sign(Tensor x) => UnaryForward(UnaryOp.Sign, x);

    /// <summary>x².</summary>
    /// <remarks>PyTorch: torch.square. Backward: dx = 2x · dy.</remarks>
    public static Tensor Square(Tensor x) => UnaryForward(UnaryOp.Square, x);

    /// <summary>1/x.</summary>
    /// <remarks>PyTorch: torch.reciprocal. Backward: dx = −dy / x².</remarks>
    public static Tensor Reciprocal(Tensor x) => UnaryForward(UnaryOp.Reciprocal, x);

    /// <summary>sin x (radians).</summary>
    /// <remarks>PyTorch: torch.sin. Backward: dx = dy · cos x.</remarks>
    public static Tensor Sin(Tensor x) => UnaryForward(UnaryOp.Sin, x);

    /// <summary>cos x (radians).</summary>
    /// <remarks>PyTorch: torch.cos. Backward: dx = −dy · sin x.</remarks>
    public static Tensor Cos(Tensor x) => UnaryForward(UnaryOp.Cos, x);

    /// <summary>The error function erf x = 2/√π ∫₀ˣ e^(−t²) dt.</summary>
    /// <remarks>PyTorch: torch.erf. Backward: dx = dy · (2/√π) e^(−x²).</remarks>
    public static Tensor Erf(Tensor x) => UnaryForward(UnaryOp.Erf, x);

    /// <summary>x raised to a constant power.</summary>
    /// <remarks>PyTorch: torch.pow(x, exponent) with a number exponent. Backward: dx = dy · p x^(p−1)
    /// (0 everywhere for p = 0). A negative x with a non-integer p gives NaN.</remarks>
    public static Tensor Pow(Tensor x, double exponent) => UnaryForward(UnaryOp.PowScalar, x, exponent);

    /// <summary>a raised to the power b, elementwise, with broadcasting.</summary>
    /// <remarks>PyTorch: torch.pow(a, b). Backward: da = dy · b a^(b−1) (0 where b = 0) and
    /// db = dy · a^b ln a (0 where a = 0 and b ≥ 0, instead of 0 · (−∞)).</remarks>
    public static Tensor Pow(Tensor a, Tensor b) =>
        BinaryForward(BinaryOp.Pow, a, b, (a2, b2) => new BinaryGradNode(BinaryOp.Pow, a2, b2));

    /// <summary>A constant raised to the power x, elementwise.</summary>
    /// <remarks>PyTorch: torch.pow(base, x) with a number base. Backward: dx = dy · base^x ln(base).</remarks>
    public static Tensor Pow(double @base, Tensor exponent)
    {
        exponent.ThrowIfDisposed();
        using var b = Tensor.Scalar(@base, exponent.DType, exponent.Device);
        return Pow(b, exponent);
    }

    /// <summary>Limits x to [min, max]; a null bound is not applied. NaN stays NaN; if min &gt; max every
    /// element becomes max.</summary>
    /// <remarks>PyTorch: torch.clamp(x, min, max). Backward: dx = dy where min ≤ x ≤ max (ends included), else 0.</remarks>
    public static Tensor Clamp(Tensor x, double? min = null, double? max = null)
    {
        if (min is null && max is null)
            throw new ArgumentException($"Clamp: at least one of min and max must be given (tensor {x.Shape})");
        if (min is double lo && double.IsNaN(lo) || max is double hi && double.IsNaN(hi))
            throw new ArgumentException($"Clamp: a bound is NaN (min {min}, max {max})");
        return UnaryForward(UnaryOp.Clamp, x, min ?? double.NegativeInfinity, max ?? double.PositiveInfinity);
    }

    /// <summary>The elementwise maximum of a and b, with broadcasting. NaN in either gives NaN.</summary>
    /// <remarks>PyTorch: torch.maximum. Backward: dy goes to the larger operand; on a tie each gets dy/2.</remarks>
    public static Tensor Maximum(Tensor a, Tensor b) =>
        BinaryForward(BinaryOp.Maximum, a, b, (a2, b2) => new BinaryGradNode(BinaryOp.Maximum, a2, b2));

    /// <summary>The elementwise minimum of a and b, with broadcasting. NaN in either gives NaN.</summary>
    /// <remarks>PyTorch: torch.minimum. Backward: dy goes to the smaller operand; on a tie each gets dy/2.</remarks>
    public static Tensor Minimum(Tensor a, Tensor b) =>
        BinaryForward(BinaryOp.Minimum, a, b, (a2, b2) => new BinaryGradNode(BinaryOp.Minimum, a2, b2));

    /// <summary>Backward of a two-input elementwise op through one fused kernel. Both inputs are saved, since
    /// each partial derivative of pow, maximum and minimum depends on both.</summary>
    private sealed class BinaryGradNode : GradNode
    {
        private readonly BinaryOp _op;
        private readonly SavedTensor _a, _b;

        public BinaryGradNode(BinaryOp op, Tensor a, Tensor b)
        {
            _op = op;
            _a = Save(a);
            _b = Save(b);
        }

        public override string Name => _op.ToString();

        public override Tensor?[] Backward(Tensor g)
        {
            // Gradients come out in g's (broadcast) shape; the engine sums them down to each input.
            using var gc = ContiguousNoGrad(g);
            using var a = ExpandNoGrad(_a.Value, g.Shape);
            using var b = ExpandNoGrad(_b.Value, g.Shape);
            var da = NeedsGrad(0) ? Tensor.EmptyLike(gc) : null;
            var db = NeedsGrad(1) ? Tensor.EmptyLike(gc) : null;
            gc.Backend.BinaryBackward(_op, a, b, gc, da, db);
            return [da, db];
        }
    }
}
