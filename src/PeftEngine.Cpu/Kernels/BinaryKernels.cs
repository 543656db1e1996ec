using System.Numerics;
using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

/// <summary>Elementwise functions of two operands over one row. Either operand may be a broadcast scalar
/// (the row repeats one value).</summary>
internal static unsafe class BinaryKernels
{
    public static void Apply<T>(BinaryOp op, T* a, bool aScalar, T* b, bool bScalar, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = y.Length;
        var sa = new ReadOnlySpan<T>(a, aScalar ? 1 : n);
        var sb = new ReadOnlySpan<T>(b, bScalar ? 1 : n);
        switch (op)
        {
            case BinaryOp.Add when !aScalar && !bScalar: TensorPrimitives.Add(sa, sb, y); return;
            case BinaryOp.Add when !aScalar: TensorPrimitives.Add(sa, *b, y); return;
            case BinaryOp.Add when !bScalar: TensorPrimitives.Add(sb, *a, y); return;
            case BinaryOp.Sub when !aScalar && !bScalar: TensorPrimitives.Subtract(sa, sb, y); return;
            case BinaryOp.Sub when !aScalar: TensorPrimitives.Subtract(sa, *b, y); return;
            case BinaryOp.Sub when !bScalar: TensorPrimitives.Subtract(*a, sb, y); return;
            case BinaryOp.Mul when !aScalar && !bScalar: TensorPrimitives.Multiply(sa, sb, y); return;
            case BinaryOp.Mul when !aScalar: TensorPrimitives.Multiply(sa, *b, y); return;
            case BinaryOp.Mul when !bScalar: TensorPrimitives.Multiply(sb, *a, y); return;
            case BinaryOp.Div when !aScalar && !bScalar: TensorPrimitives.Divide(sa, sb, y); return;
            case BinaryOp.Div when !aScalar: TensorPrimitives.Divide(sa, *b, y); return;
            case BinaryOp.Div when !bScalar: TensorPrimitives.Divide(*a, sb, y); return;
            default:
                for (int i = 0; i < n; i++)
                {
                    double va = double.CreateTruncating(aScalar ? *a : a[i]);
                    double vb = double.CreateTruncating(bScalar ? *b : b[i]);
                    y[i] = T.CreateTruncating(ScalarMath.Binary(op, va, vb));
                }
                return;
        }
    }
}
