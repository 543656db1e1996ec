namespace PeftEngine.Cpu;

/// <summary>The elementwise functions and their derivatives, one scalar at a time, in double precision.</summary>
public static class ScalarMath
{
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
        UnaryOp.Relu => x > 0 ? x : 0,
        UnaryOp.Sigmoid => Sigmoid(x),
        UnaryOp.Tanh => Math.Tanh(x),
        UnaryOp.Silu => x * Sigmoid(x),
        // log(1 + e^x), written to neither overflow for large x nor lose digits for very negative x
        UnaryOp.Softplus => Math.Max(x, 0) + Math.Log(1 + Math.Exp(-Math.Abs(x))),
        UnaryOp.Erf => SpecialFunctions.Erf(x),
        UnaryOp.GeluErf => 0.5 * x * (1 + SpecialFunctions.Erf(x / Math.Sqrt(2))),
        UnaryOp.GeluTanh => 0.5 * x * (1 + Math.Tanh(GeluTanhInner(x))),
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
            case UnaryOp.Abs: return Math.Sign(x);
            case UnaryOp.Sign: return 0;
            case UnaryOp.Square: return 2 * x;
            case UnaryOp.Reciprocal: return -1 / (x * x);
            case UnaryOp.Sin: return Math.Cos(x);
            case UnaryOp.Cos: return -Math.Sin(x);
            case UnaryOp.Relu: return x > 0 ? 1 : 0;
            case UnaryOp.Sigmoid: { double s = Sigmoid(x); return s * (1 - s); }
            case UnaryOp.Tanh: { double t = Math.Tanh(x); return 1 - t * t; }
            case UnaryOp.Silu: { double s = Sigmoid(x); return s * (1 + x * (1 - s)); }
            case UnaryOp.Softplus: return Sigmoid(x);
            case UnaryOp.Erf: return 2 / Math.Sqrt(Math.PI) * Math.Exp(-x * x);
            case UnaryOp.GeluErf:
            {
                // d/dx [x Φ(x)] = Φ(x) + x φ(x)
                double cdf = 0.5 * (1 + SpecialFunctions.Erf(x / Math.Sqrt(2)));
                double pdf = Math.Exp(-0.5 * x * x) / Math.Sqrt(2 * Math.PI);
                return cdf + x * pdf;
            }
            case UnaryOp.GeluTanh:
            {
                const double k = 0.7978845608028654; // sqrt(2/pi)
                double t = Math.Tanh(GeluTanhInner(x));
                double dInner = k * (1 + 3 * 0.044715 * x * x);
                return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * dInner;
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
        BinaryOp.Maximum => double.IsNaN(a) || double.IsNaN(b) ? double.NaN : Math.Max(a, b),
        BinaryOp.Minimum => double.IsNaN(a) || double.IsNaN(b) ? double.NaN : Math.Min(a, b),
        _ => throw new NotSupportedException($"binary op {op}"),
    };

    /// <summary>The logistic function 1 / (1 + e^-x), stable for large |x|.</summary>
    public static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    private static double GeluTanhInner(double x) => 0.7978845608028654 * (x + 0.044715 * x * x * x);
}
