using System.Numerics;
using static PeftEngine.Cpu.VectorMath;

namespace PeftEngine.Cpu;

/// <summary>
/// SIMD forms of the activation functions and of the derivatives TensorPrimitives does not provide, one
/// operator struct per formula (run by <see cref="VectorMath.Map{T, TOp}(TOp, ReadOnlySpan{T}, Span{T})"/>).
/// Backward structs take (x, dy) and return dx = dy · f'(x). The formulas match <see cref="ScalarMath"/>.
/// </summary>
internal static class ActivationKernels
{
    private const double SqrtTwoOverPi = 0.7978845608028654;     // √(2/π)
    private const double GeluTanhCubic = 0.044715;
    private const double TwoOverSqrtPi = 1.1283791670955126;     // 2/√π
    private const double OneOverSqrtTwoPi = 0.3989422804014327;  // 1/√(2π)
    private const float SqrtHalf = 0.70710678f;                  // 1/√2

    // ---- forward ----

    /// <summary>sign(x).</summary>
    public readonly struct Sign<T> : IVectorOp1<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> x) => VectorMath.Sign(x);
    }

    /// <summary>x if x &gt; 0 else slope · x.</summary>
    public readonly struct LeakyRelu<T>(T slope) : IVectorOp1<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> x) => Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<T>.Zero), x, x * slope);
    }

    /// <summary>silu(x) = x σ(x).</summary>
    public readonly struct Silu<T> : IVectorOp1<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> x) => x * Sigmoid(x).Pos;
    }

    /// <summary>softplus(x) = max(x, 0) + log(1 + e^−|x|).</summary>
    public readonly struct Softplus<T> : IVectorOp1<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> x) => Vector.Max(x, Vector<T>.Zero) + Log1p(Exp(-Vector.Abs(x)));
    }

    /// <summary>gelu_tanh(x) = ½ x (1 + tanh u) = x σ(2u), u = √(2/π)(x + 0.044715 x³).</summary>
    public readonly struct GeluTanh<T> : IVectorOp1<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> x) => x * Sigmoid(Inner(x) * Splat<T>(2)).Pos;
    }

    /// <summary>erf(x) in single precision.</summary>
    public readonly struct ErfF32 : IVectorOp1<float>
    {
        public Vector<float> Invoke(Vector<float> x)
        {
            return Vector.CopySign(ErfNonNegative(Vector.Abs(x)), x);
        }
    }

    /// <summary>gelu(x) = x Φ(x) in single precision, Φ(x) = ½ erfc(−x/√2).</summary>
    public readonly struct GeluErfF32 : IVectorOp1<float>
    {
        public Vector<float> Invoke(Vector<float> x) => x * NormalCdf(x, ExpMinusHalfSquare(x));
    }

    // ---- backward: (x, dy) -> dx ----

    /// <summary>dx = dy where x &gt; 0, else 0.</summary>
    public readonly struct ReluGrad<T> : IVectorOp2<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> x, Vector<T> dy) => Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<T>.Zero), dy, Vector<T>.Zero);
    }

    /// <summary>dx = dy where x &gt; 0, else slope · dy.</summary>
    public readonly struct LeakyReluGrad<T>(T slope) : IVectorOp2<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> x, Vector<T> dy) => Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<T>.Zero), dy, dy * slope);
    }

    /// <summary>σ'(x) = σ(x) σ(−x).</summary>
    public readonly struct SigmoidGrad<T> : IVectorOp2<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> x, Vector<T> dy)
        {
            var (s, sn) = Sigmoid(x);
            return dy * s * sn;
        }
    }

    /// <summary>tanh'(x) = 1 − tanh² x = 4 σ(2x) σ(−2x) (tanh x = 2σ(2x) − 1), accurate in the tails.</summary>
    public readonly struct TanhGrad<T> : IVectorOp2<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> x, Vector<T> dy)
        {
            var (s, sn) = Sigmoid(x * Splat<T>(2));
            return dy * Splat<T>(4) * s * sn;
        }
    }

    /// <summary>silu'(x) = σ(x)(1 + x σ(−x)).</summary>
    public readonly struct SiluGrad<T> : IVectorOp2<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> x, Vector<T> dy)
        {
            var (s, sn) = Sigmoid(x);
            return dy * s * (Vector<T>.One + x * sn);
        }
    }

    /// <summary>softplus'(x) = σ(x).</summary>
    public readonly struct SoftplusGrad<T> : IVectorOp2<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> x, Vector<T> dy) => dy * Sigmoid(x).Pos;
    }

    /// <summary>erf'(x) = (2/√π) e^(−x²).</summary>
    public readonly struct ErfGrad<T> : IVectorOp2<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> x, Vector<T> dy) => dy * Splat<T>(TwoOverSqrtPi) * Exp(-(x * x));
    }

    /// <summary>gelu_tanh'(x) = σ(2u) + 2x σ(2u) σ(−2u) u'(x), u' = √(2/π)(1 + 3·0.044715 x²).</summary>
    public readonly struct GeluTanhGrad<T> : IVectorOp2<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> x, Vector<T> dy)
        {
            var two = Splat<T>(2);
            var (s, sn) = Sigmoid(Inner(x) * two);
            var du = Splat<T>(SqrtTwoOverPi) * (Vector<T>.One + Splat<T>(3 * GeluTanhCubic) * x * x);
            return dy * (s + two * x * s * sn * du);
        }
    }

    /// <summary>gelu'(x) = Φ(x) + x φ(x) in single precision.</summary>
    public readonly struct GeluErfGradF32 : IVectorOp2<float>
    {
        public Vector<float> Invoke(Vector<float> x, Vector<float> dy)
        {
            var e = ExpMinusHalfSquare(x);   // shared by Φ and φ
            var pdf = new Vector<float>((float)OneOverSqrtTwoPi) * e;
            return dy * (NormalCdf(x, e) + x * pdf);
        }
    }

    /// <summary>d/dx √x = 1 / (2√x).</summary>
    public readonly struct SqrtGrad<T> : IVectorOp2<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> x, Vector<T> dy) => dy * Splat<T>(0.5) / Vector.SquareRoot(x);
    }

    /// <summary>d/dx x^(−½) = −½ x^(−3/2).</summary>
    public readonly struct RsqrtGrad<T> : IVectorOp2<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> x, Vector<T> dy) => dy * Splat<T>(-0.5) / (x * Vector.SquareRoot(x));
    }

    /// <summary>d/dx |x| = sign(x) (0 at 0, as PyTorch).</summary>
    public readonly struct AbsGrad<T> : IVectorOp2<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> x, Vector<T> dy) => dy * VectorMath.Sign(x);
    }

    /// <summary>d/dx x² = 2x.</summary>
    public readonly struct SquareGrad<T> : IVectorOp2<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> x, Vector<T> dy) => dy * Splat<T>(2) * x;
    }

    /// <summary>d/dx (1/x) = −1/x².</summary>
    public readonly struct ReciprocalGrad<T> : IVectorOp2<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> x, Vector<T> dy) => -dy / (x * x);
    }

    /// <summary>d/dx log x = 1/x.</summary>
    public readonly struct LogGrad<T> : IVectorOp2<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> x, Vector<T> dy) => dy / x;
    }

    /// <summary>d/dx e^x = e^x.</summary>
    public readonly struct ExpGrad<T> : IVectorOp2<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> x, Vector<T> dy) => dy * Exp(x);
    }

    /// <summary>d/dx clamp(x, lo, hi) = 1 where lo ≤ x ≤ hi, else 0 (PyTorch's choice at the ends).</summary>
    public readonly struct ClampGrad<T>(T lo, T hi) : IVectorOp2<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> x, Vector<T> dy)
        {
            var inside = Vector.GreaterThanOrEqual(x, new Vector<T>(lo)) & Vector.LessThanOrEqual(x, new Vector<T>(hi));
            return Vector.ConditionalSelect(inside, dy, Vector<T>.Zero);
        }
    }

    /// <summary>u = √(2/π)(x + 0.044715 x³), the argument of tanh in the tanh form of GELU.</summary>
    private static Vector<T> Inner<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T> =>
        Splat<T>(SqrtTwoOverPi) * (x + Splat<T>(GeluTanhCubic) * x * x * x);

    /// <summary>Φ(x) = ½ erfc(−x/√2) in single precision, from the scaled erfc and e^(−x²/2) (passed in, since
    /// the derivative needs it too): Φ(−|x|) = ½ e^(−x²/2) t·Q(t) at z = |x|/√2, and Φ(|x|) = 1 − Φ(−|x|). Both
    /// tails keep their relative accuracy.</summary>
    private static Vector<float> NormalCdf(Vector<float> x, Vector<float> expMinusHalfSquare)
    {
        var lower = new Vector<float>(0.5f) * ErfcScaled(Vector.Abs(x) * new Vector<float>(SqrtHalf)) * expMinusHalfSquare;
        return Vector.ConditionalSelect(Vector.GreaterThanOrEqual(x, Vector<float>.Zero), Vector<float>.One - lower, lower);
    }

    /// <summary>e^(−x²/2).</summary>
    private static Vector<float> ExpMinusHalfSquare(Vector<float> x) => Vector.Exp(new Vector<float>(-0.5f) * x * x);
}
