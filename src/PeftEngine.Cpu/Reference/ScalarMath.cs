namespace PeftEngine.Cpu;

/// <summary>
/// The elementwise functions and their derivatives, one scalar at a time, in double precision. This is the
/// definition the fast kernels are tested against. Formulas are written to stay accurate in the tails
/// (no overflow of e^x, no cancellation in 1 − σ(x)), as PyTorch's are.
/// </summary>
public static class ScalarMath
{
    private const double SqrtTwoOverPi = 0.7978845608028654; // √(2/π)
    private const double GeluTanhCubic = 0.044715;

    /// <summary>f(x) for a <see cref="UnaryOp"/>.</summary>
    public static double Forward(UnaryOp op, double x, double alpha = 0, double beta = 0) => op switch
    {
        UnaryOp.Neg => -x,
        UnaryOp.Exp => Math.Exp(x),
        UnaryOp.Log => Math.Log(x),
        UnaryOp.Sqrt => Math.Sqrt(x),
        UnaryOp.Rsqrt => 1.0 / Math.Sqrt(x),
        UnaryOp.Abs => Math.Abs(x),
        UnaryOp.Sign => double.IsNaN(x) ? x : Math.Sign(x),
        UnaryOp.Square => x * x,
        UnaryOp.Reciprocal => 1.0 / x,
        UnaryOp.Sin => Math.Sin(x),
        UnaryOp.Cos => Math.Cos(x),
        UnaryOp.Relu => Math.Max(x, 0.0),   // Math.Max keeps NaN, as torch.relu does
        UnaryOp.Sigmoid => Sigmoid(x),
        UnaryOp.Tanh => Math.Tanh(x),
        UnaryOp.Silu => x * Sigmoid(x),
        // log(1 + e^x) = max(x, 0) + log(1 + e^−|x|): no overflow for large x, no lost digits for very negative x
        UnaryOp.Softplus => Math.Max(x, 0.0) + Log1p(Math.Exp(-Math.Abs(x))),
        UnaryOp.Erf => SpecialFunctions.Erf(x),
        // x Φ(x), with Φ from erfc so that the far negative tail keeps its digits
        UnaryOp.GeluErf => x * SpecialFunctions.NormalCdf(x),
        // ½ x (1 + tanh u) = x σ(2u), u = √(2/π)(x + 0.044715 x³)
        UnaryOp.GeluTanh => x * Sigmoid(2 * GeluTanhInner(x)),
        UnaryOp.LeakyRelu => x > 0 ? x : alpha * x,
        UnaryOp.PowScalar => Math.Pow(x, alpha),
        UnaryOp.Clamp => Math.Min(Math.Max(x, alpha), beta),
        UnaryOp.AddScalar => x + alpha,
        UnaryOp.MulScalar => x * alpha,
        _ => throw new NotSupportedException($"unary op {op}"),
    };

    /// <summary>f'(x) for a <see cref="UnaryOp"/>. At kinks (relu, abs, clamp) the choice matches PyTorch.</summary>
    public static double Derivative(UnaryOp op, double x, double alpha = 0, double beta = 0)
    {
        switch (op)
        {
            case UnaryOp.Neg: return -1;
            case UnaryOp.Exp: return Math.Exp(x);
            case UnaryOp.Log: return 1 / x;
            case UnaryOp.Sqrt: return 0.5 / Math.Sqrt(x);
            case UnaryOp.Rsqrt: return -0.5 / (x * Math.Sqrt(x));
            case UnaryOp.Abs: return double.IsNaN(x) ? x : Math.Sign(x);
            case UnaryOp.Sign: return 0;
            case UnaryOp.Square: return 2 * x;
            case UnaryOp.Reciprocal: return -1 / (x * x);
            case UnaryOp.Sin: return Math.Cos(x);
            case UnaryOp.Cos: return -Math.Sin(x);
            case UnaryOp.Relu: return x > 0 ? 1 : 0;
            // σ'(x) = σ(x)(1 − σ(x)) = σ(x)σ(−x)
            case UnaryOp.Sigmoid: return Sigmoid(x) * Sigmoid(-x);
            // tanh'(x) = 1 − tanh²(x) = 1 / cosh²(x)
            case UnaryOp.Tanh: { double c = Math.Cosh(x); return 1 / (c * c); }
            // d/dx [x σ(x)] = σ(x)(1 + x σ(−x))
            case UnaryOp.Silu: return Sigmoid(x) * (1 + x * Sigmoid(-x));
            case UnaryOp.Softplus: return Sigmoid(x);
            case UnaryOp.Erf: return 2 / Math.Sqrt(Math.PI) * SpecialFunctions.ExpMinusSquare(x);
            // d/dx [x Φ(x)] = Φ(x) + x φ(x)
            case UnaryOp.GeluErf: return SpecialFunctions.NormalCdf(x) + x * SpecialFunctions.NormalPdf(x);
            case UnaryOp.GeluTanh:
            {
                // d/dx [x σ(2u)] = σ(2u) + 2x σ(2u) σ(−2u) u'(x), u' = √(2/π)(1 + 3·0.044715 x²)
                double u = GeluTanhInner(x);
                double s = Sigmoid(2 * u);
                double du = SqrtTwoOverPi * (1 + 3 * GeluTanhCubic * x * x);
                return s + 2 * x * s * Sigmoid(-2 * u) * du;
            }
            case UnaryOp.LeakyRelu: return x > 0 ? 1 : alpha;
            case UnaryOp.PowScalar: return alpha == 0 ? 0 : alpha * Math.Pow(x, alpha - 1);
            case UnaryOp.Clamp: return x >= alpha && x <= beta ? 1 : 0;
            case UnaryOp.AddScalar: return 1;
            case UnaryOp.MulScalar: return alpha;
            default: throw new NotSupportedException($"unary op {op}");
        }
    }

    /// <summary>a ∘ b for a <see cref="BinaryOp"/>.</summary>
    public static double Binary(BinaryOp op, double a, double b) => op switch
    {
        BinaryOp.Add => a + b,
        BinaryOp.Sub => a - b,
        BinaryOp.Mul => a * b,
        BinaryOp.Div => a / b,
        BinaryOp.Pow => Math.Pow(a, b),
        // NaN in either operand gives NaN, and +0 counts as larger than −0 (IEEE 754-2019 maximum/minimum)
        BinaryOp.Maximum => Math.Max(a, b),
        BinaryOp.Minimum => Math.Min(a, b),
        _ => throw new NotSupportedException($"binary op {op}"),
    };

    /// <summary>The partial derivatives (∂y/∂a, ∂y/∂b) of y = a ∘ b.</summary>
    /// <remarks>
    /// As in PyTorch: pow's ∂/∂a is 0 where b = 0 and its ∂/∂b is 0 where a = 0 and b ≥ 0 (instead of 0·log 0);
    /// maximum and minimum split the gradient evenly on ties and pass it to both operands when either is NaN.
    /// </remarks>
    public static (double DA, double DB) BinaryDerivatives(BinaryOp op, double a, double b)
    {
        switch (op)
        {
            case BinaryOp.Add: return (1, 1);
            case BinaryOp.Sub: return (1, -1);
            case BinaryOp.Mul: return (b, a);
            case BinaryOp.Div: return (1 / b, -a / (b * b));
            case BinaryOp.Pow:
                return (b == 0 ? 0 : b * Math.Pow(a, b - 1),
                        a == 0 && b >= 0 ? 0 : Math.Pow(a, b) * Math.Log(a));
            case BinaryOp.Maximum:
                if (a == b) return (0.5, 0.5);
                return (a < b ? 0 : 1, a > b ? 0 : 1);
            case BinaryOp.Minimum:
                if (a == b) return (0.5, 0.5);
                return (a > b ? 0 : 1, a < b ? 0 : 1);
            default: throw new NotSupportedException($"binary op {op}");
        }
    }

    /// <summary>a ⋈ b for a <see cref="CompareOp"/> (false whenever a NaN is involved, except for Ne).</summary>
    public static bool Compare(CompareOp op, double a, double b) => op switch
    {
        CompareOp.Eq => a == b,
        CompareOp.Ne => a != b,
        CompareOp.Lt => a < b,
        CompareOp.Le => a <= b,
        CompareOp.Gt => a > b,
        CompareOp.Ge => a >= b,
        _ => throw new NotSupportedException($"comparison {op}"),
    };

    /// <summary>The logistic function 1 / (1 + e^-x), stable for large |x|.</summary>
    public static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    /// <summary>log(1 + u) without losing digits for small u: the rounding of w = 1 + u is undone by the
    /// factor u / (w − 1).</summary>
    public static double Log1p(double u)
    {
        double w = 1 + u;
        return w == 1 ? u : Math.Log(w) * u / (w - 1);
    }

    private static double GeluTanhInner(double x) => SqrtTwoOverPi * (x + GeluTanhCubic * x * x * x);
}
