using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using static PeftEngine.Cpu.ActivationKernels;

namespace PeftEngine.Cpu;

/// <summary>
/// Elementwise functions of one contiguous span and their derivatives, all SIMD: TensorPrimitives where it has
/// the function, <see cref="ActivationKernels"/> operator structs otherwise. x and y may be the same span.
/// </summary>
/// <remarks>
/// The one exception is erf (and GELU's exact form) in double precision: no short polynomial reaches double
/// accuracy, so those run the scalar <see cref="SpecialFunctions"/> element by element (still threaded by
/// the caller).
/// </remarks>
internal static class UnaryKernels
{
    /// <summary>y = f(x).</summary>
    public static void Apply<T>(UnaryOp op, ReadOnlySpan<T> x, Span<T> y, T alpha, T beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (op)
        {
            case UnaryOp.Neg: TensorPrimitives.Negate(x, y); return;
            case UnaryOp.Exp: TensorPrimitives.Exp(x, y); return;
            case UnaryOp.Log: TensorPrimitives.Log(x, y); return;
            case UnaryOp.Sqrt: TensorPrimitives.Sqrt(x, y); return;
            case UnaryOp.Rsqrt: TensorPrimitives.ReciprocalSqrt(x, y); return;
            case UnaryOp.Abs: TensorPrimitives.Abs(x, y); return;
            case UnaryOp.Sign: VectorMath.Map(new Sign<T>(), x, y); return;
            case UnaryOp.Square: TensorPrimitives.Multiply(x, x, y); return;
            case UnaryOp.Reciprocal: TensorPrimitives.Reciprocal(x, y); return;
            case UnaryOp.Sin: TensorPrimitives.Sin(x, y); return;
            case UnaryOp.Cos: TensorPrimitives.Cos(x, y); return;
            case UnaryOp.Relu: TensorPrimitives.Max(x, T.Zero, y); return;   // keeps NaN
            case UnaryOp.Sigmoid: TensorPrimitives.Sigmoid(x, y); return;
            case UnaryOp.Tanh: TensorPrimitives.Tanh(x, y); return;
            case UnaryOp.Silu: VectorMath.Map(new Silu<T>(), x, y); return;
            case UnaryOp.Softplus: VectorMath.Map(new Softplus<T>(), x, y); return;
            case UnaryOp.GeluTanh: VectorMath.Map(new GeluTanh<T>(), x, y); return;
            case UnaryOp.LeakyRelu: VectorMath.Map(new LeakyRelu<T>(alpha), x, y); return;
            case UnaryOp.PowScalar: PowScalar(x, alpha, y); return;
            case UnaryOp.Clamp:
                TensorPrimitives.Max(x, alpha, y);   // NaN stays NaN through both steps
                TensorPrimitives.Min(y, beta, y);
                return;
            case UnaryOp.AddScalar: TensorPrimitives.Add(x, alpha, y); return;
            case UnaryOp.MulScalar: TensorPrimitives.Multiply(x, alpha, y); return;
            case UnaryOp.Erf when typeof(T) == typeof(float):
                VectorMath.Map(new ErfF32(), AsFloat(x), AsFloat(y));
                return;
            case UnaryOp.GeluErf when typeof(T) == typeof(float):
            {
                int done = GeluErf512.IsSupported ? GeluErf512.Forward(AsFloat(x), AsFloat(y)) : 0;
                VectorMath.Map(new GeluErfF32(), AsFloat(x)[done..], AsFloat(y)[done..]);
                return;
            }
            case UnaryOp.Erf or UnaryOp.GeluErf:
                for (int i = 0; i < x.Length; i++)
                    y[i] = T.CreateTruncating(ScalarMath.Forward(op, double.CreateTruncating(x[i])));
                return;
            default: throw new NotSupportedException($"Unary: no fast kernel for {op}");
        }
    }

    /// <summary>dx = dy * f'(x).</summary>
    public static void Backward<T>(UnaryOp op, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx, T alpha, T beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (op)
        {
            case UnaryOp.Neg: TensorPrimitives.Negate(dy, dx); return;
            case UnaryOp.AddScalar: dy.CopyTo(dx); return;
            case UnaryOp.MulScalar: TensorPrimitives.Multiply(dy, alpha, dx); return;
            case UnaryOp.Sign: dx.Clear(); return;
            case UnaryOp.Exp: VectorMath.Map(new ExpGrad<T>(), x, dy, dx); return;
            case UnaryOp.Log: VectorMath.Map(new LogGrad<T>(), x, dy, dx); return;
            case UnaryOp.Sqrt: VectorMath.Map(new SqrtGrad<T>(), x, dy, dx); return;
            case UnaryOp.Rsqrt: VectorMath.Map(new RsqrtGrad<T>(), x, dy, dx); return;
            case UnaryOp.Abs: VectorMath.Map(new AbsGrad<T>(), x, dy, dx); return;
            case UnaryOp.Square: VectorMath.Map(new SquareGrad<T>(), x, dy, dx); return;
            case UnaryOp.Reciprocal: VectorMath.Map(new ReciprocalGrad<T>(), x, dy, dx); return;
            case UnaryOp.Sin:
                TensorPrimitives.Cos(x, dx);
                TensorPrimitives.Multiply(dx, dy, dx);
                return;
            case UnaryOp.Cos:
                TensorPrimitives.Sin(x, dx);
                TensorPrimitives.Multiply(dx, dy, dx);
                TensorPrimitives.Negate(dx, dx);
                return;
            case UnaryOp.Relu: VectorMath.Map(new ReluGrad<T>(), x, dy, dx); return;
            case UnaryOp.Sigmoid: VectorMath.Map(new SigmoidGrad<T>(), x, dy, dx); return;
            case UnaryOp.Tanh: VectorMath.Map(new TanhGrad<T>(), x, dy, dx); return;
            case UnaryOp.Silu: VectorMath.Map(new SiluGrad<T>(), x, dy, dx); return;
            case UnaryOp.Softplus: VectorMath.Map(new SoftplusGrad<T>(), x, dy, dx); return;
            case UnaryOp.Erf: VectorMath.Map(new ErfGrad<T>(), x, dy, dx); return;
            case UnaryOp.GeluTanh: VectorMath.Map(new GeluTanhGrad<T>(), x, dy, dx); return;
            case UnaryOp.LeakyRelu: VectorMath.Map(new LeakyReluGrad<T>(alpha), x, dy, dx); return;
            case UnaryOp.Clamp: VectorMath.Map(new ClampGrad<T>(alpha, beta), x, dy, dx); return;
            case UnaryOp.PowScalar:
                // d/dx x^a = a x^(a−1); a = 0 gives 0 everywhere (also where x = 0)
                if (alpha == T.Zero) { dx.Clear(); return; }
                PowScalar(x, alpha - T.One, dx);
                TensorPrimitives.Multiply(dx, dy, dx);
                TensorPrimitives.Multiply(dx, alpha, dx);
                return;
            case UnaryOp.GeluErf when typeof(T) == typeof(float):
            {
                int done = GeluErf512.IsSupported ? GeluErf512.Backward(AsFloat(x), AsFloat(dy), AsFloat(dx)) : 0;
                VectorMath.Map(new GeluErfGradF32(), AsFloat(x)[done..], AsFloat(dy)[done..], AsFloat(dx)[done..]);
                return;
            }
            case UnaryOp.GeluErf:
                for (int i = 0; i < x.Length; i++)
                    dx[i] = dy[i] * T.CreateTruncating(ScalarMath.Derivative(op, double.CreateTruncating(x[i])));
                return;
            default: throw new NotSupportedException($"UnaryBackward: no fast kernel for {op}");
        }
    }

    /// <summary>A rough cost of one element in element-operations (an add is 1), used only to decide whether a
    /// tensor is big enough to be worth several threads.</summary>
    public static long Cost(UnaryOp op) => op switch
    {
        UnaryOp.Neg or UnaryOp.Abs or UnaryOp.Sign or UnaryOp.Square or UnaryOp.Relu or UnaryOp.LeakyRelu
            or UnaryOp.Clamp or UnaryOp.AddScalar or UnaryOp.MulScalar => 1,
        UnaryOp.Sqrt or UnaryOp.Rsqrt or UnaryOp.Reciprocal => 2,
        UnaryOp.Erf or UnaryOp.GeluErf or UnaryOp.PowScalar => 20,
        _ => 8,
    };

    /// <summary>y = x^p, with the common exponents done without a general power.</summary>
    private static void PowScalar<T>(ReadOnlySpan<T> x, T p, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (p == T.One) x.CopyTo(y);
        else if (p == T.CreateTruncating(2)) TensorPrimitives.Multiply(x, x, y);
        else if (p == T.CreateTruncating(0.5)) TensorPrimitives.Sqrt(x, y);
        else if (p == -T.One) TensorPrimitives.Reciprocal(x, y);
        else TensorPrimitives.Pow(x, p, y);
    }

    private static ReadOnlySpan<float> AsFloat<T>(ReadOnlySpan<T> s) where T : unmanaged => MemoryMarshal.Cast<T, float>(s);

    private static Span<float> AsFloat<T>(Span<T> s) where T : unmanaged => MemoryMarshal.Cast<T, float>(s);
}
