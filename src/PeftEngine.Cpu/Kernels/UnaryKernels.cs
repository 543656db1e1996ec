using System.Numerics;
using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

/// <summary>Elementwise functions of one contiguous span: SIMD through TensorPrimitives where it has the
/// function, a scalar loop otherwise. x and y may be the same span.</summary>
internal static class UnaryKernels
{
    public static void Apply<T>(UnaryOp op, ReadOnlySpan<T> x, Span<T> y, T alpha, T beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (op)
        {
            case UnaryOp.Neg: TensorPrimitives.Negate(x, y); return;
            case UnaryOp.Exp: TensorPrimitives.Exp(x, y); return;
            case UnaryOp.AddScalar: TensorPrimitives.Add(x, alpha, y); return;
            case UnaryOp.MulScalar: TensorPrimitives.Multiply(x, alpha, y); return;
            default:
                double a = double.CreateTruncating(alpha), b = double.CreateTruncating(beta);
                for (int i = 0; i < x.Length; i++)
                    y[i] = T.CreateTruncating(ScalarMath.Forward(op, double.CreateTruncating(x[i]), a, b));
                return;
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
            case UnaryOp.Exp:
                TensorPrimitives.Exp(x, dx);
                TensorPrimitives.Multiply(dx, dy, dx);
                return;
            default:
                double a = double.CreateTruncating(alpha), b = double.CreateTruncating(beta);
                for (int i = 0; i < x.Length; i++)
                    dx[i] = dy[i] * T.CreateTruncating(ScalarMath.Derivative(op, double.CreateTruncating(x[i]), a, b));
                return;
        }
    }
}
