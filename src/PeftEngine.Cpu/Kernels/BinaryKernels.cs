using System.Numerics;
using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

/// <summary>Elementwise functions of two operands over one row, and their derivatives. In the forward either
/// operand may be a broadcast scalar (the row repeats one value).</summary>
internal static unsafe class BinaryKernels
{
    /// <summary>y = a ∘ b over one row; <paramref name="aScalar"/>/<paramref name="bScalar"/> mark an operand
    /// that repeats its first element.</summary>
    public static void Apply<T>(BinaryOp op, T* a, bool aScalar, T* b, bool bScalar, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = y.Length;
        var sa = new ReadOnlySpan<T>(a, aScalar ? 1 : n);
        var sb = new ReadOnlySpan<T>(b, bScalar ? 1 : n);
        if (aScalar && bScalar)
        {
            y.Fill(T.CreateTruncating(ScalarMath.Binary(op, double.CreateTruncating(*a), double.CreateTruncating(*b))));
            return;
        }
        switch (op)
        {
            case BinaryOp.Add when !aScalar && !bScalar: TensorPrimitives.Add(sa, sb, y); return;
            case BinaryOp.Add when !aScalar: TensorPrimitives.Add(sa, *b, y); return;
            case BinaryOp.Add: TensorPrimitives.Add(sb, *a, y); return;
            case BinaryOp.Sub when !aScalar && !bScalar: TensorPrimitives.Subtract(sa, sb, y); return;
            case BinaryOp.Sub when !aScalar: TensorPrimitives.Subtract(sa, *b, y); return;
            case BinaryOp.Sub: TensorPrimitives.Subtract(*a, sb, y); return;
            case BinaryOp.Mul when !aScalar && !bScalar: TensorPrimitives.Multiply(sa, sb, y); return;
            case BinaryOp.Mul when !aScalar: TensorPrimitives.Multiply(sa, *b, y); return;
            case BinaryOp.Mul: TensorPrimitives.Multiply(sb, *a, y); return;
            case BinaryOp.Div when !aScalar && !bScalar: TensorPrimitives.Divide(sa, sb, y); return;
            case BinaryOp.Div when !aScalar: TensorPrimitives.Divide(sa, *b, y); return;
            case BinaryOp.Div: TensorPrimitives.Divide(*a, sb, y); return;
            case BinaryOp.Pow when !aScalar && !bScalar: TensorPrimitives.Pow(sa, sb, y); return;
            case BinaryOp.Pow when !aScalar: TensorPrimitives.Pow(sa, *b, y); return;
            case BinaryOp.Pow: TensorPrimitives.Pow(*a, sb, y); return;
            // Max/Min are IEEE 754-2019 maximum/minimum: NaN wins, +0 > −0 (as torch.maximum/minimum)
            case BinaryOp.Maximum when !aScalar && !bScalar: TensorPrimitives.Max(sa, sb, y); return;
            case BinaryOp.Maximum when !aScalar: TensorPrimitives.Max(sa, *b, y); return;
            case BinaryOp.Maximum: TensorPrimitives.Max(sb, *a, y); return;
            case BinaryOp.Minimum when !aScalar && !bScalar: TensorPrimitives.Min(sa, sb, y); return;
            case BinaryOp.Minimum when !aScalar: TensorPrimitives.Min(sa, *b, y); return;
            case BinaryOp.Minimum: TensorPrimitives.Min(sb, *a, y); return;
            default: throw new NotSupportedException($"Binary: no fast kernel for {op}");
        }
    }

    /// <summary>A rough cost of one element in element-operations, for the threading threshold.</summary>
    public static long Cost(BinaryOp op) => op == BinaryOp.Pow ? 20 : 1;

    /// <summary>
    /// da = dy * ∂y/∂a and db = dy * ∂y/∂b over one row of contiguous spans (either output may be empty when not
    /// needed). <paramref name="tmp"/> is scratch space of the row's length.
    /// </summary>
    public static void Backward<T>(BinaryOp op, ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> dy, Span<T> da, Span<T> db, Span<T> tmp)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool needA = !da.IsEmpty, needB = !db.IsEmpty;
        switch (op)
        {
            case BinaryOp.Add:
                if (needA) dy.CopyTo(da);
                if (needB) dy.CopyTo(db);
                return;
            case BinaryOp.Sub:
                if (needA) dy.CopyTo(da);
                if (needB) TensorPrimitives.Negate(dy, db);
                return;
            case BinaryOp.Mul:
                if (needA) TensorPrimitives.Multiply(dy, b, da);
                if (needB) TensorPrimitives.Multiply(dy, a, db);
                return;
            case BinaryOp.Div:
                if (needA) TensorPrimitives.Divide(dy, b, da);
                if (needB) VectorMath.Map(new DivGradB<T>(), a, b, dy, db);
                return;
            case BinaryOp.Pow:
                if (needA)
                {
                    // da = dy · b · a^(b−1), and 0 where b = 0
                    TensorPrimitives.Subtract(b, T.One, tmp);
                    TensorPrimitives.Pow(a, tmp, tmp);
                    VectorMath.Map(new PowGradA<T>(), b, tmp, dy, da);
                }
                if (needB)
                {
                    // db = dy · a^b · ln a, and 0 where a = 0 and b ≥ 0
                    TensorPrimitives.Pow(a, b, tmp);
                    VectorMath.Map(new PowGradB<T>(), a, b, tmp, db);
                    TensorPrimitives.Multiply(db, dy, db);
                }
                return;
            case BinaryOp.Maximum or BinaryOp.Minimum:
                bool max = op == BinaryOp.Maximum;
                if (needA) VectorMath.Map(new MaxMinGrad<T>(max), a, b, dy, da);
                if (needB) VectorMath.Map(new MaxMinGrad<T>(max), b, a, dy, db);
                return;
            default: throw new NotSupportedException($"BinaryBackward: no fast kernel for {op}");
        }
    }

    /// <summary>∂(a/b)/∂b · dy = −dy · a / b².</summary>
    private readonly struct DivGradB<T> : IVectorOp3<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> a, Vector<T> b, Vector<T> dy) => -dy * a / (b * b);
    }

    /// <summary>(b, a^(b−1), dy) → dy · b · a^(b−1), 0 where b = 0.</summary>
    private readonly struct PowGradA<T> : IVectorOp3<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> b, Vector<T> powBm1, Vector<T> dy) =>
            Vector.ConditionalSelect(Vector.Equals(b, Vector<T>.Zero), Vector<T>.Zero, dy * b * powBm1);
    }

    /// <summary>(a, b, a^b) → a^b · ln a, 0 where a = 0 and b ≥ 0.</summary>
    private readonly struct PowGradB<T> : IVectorOp3<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> a, Vector<T> b, Vector<T> pow)
        {
            var zero = Vector.Equals(a, Vector<T>.Zero) & Vector.GreaterThanOrEqual(b, Vector<T>.Zero);
            return Vector.ConditionalSelect(zero, Vector<T>.Zero, pow * VectorMath.Log(a));
        }
    }

    /// <summary>
    /// The share of dy that operand x gets from max(x, other) (or min): all of it where x wins, none where it
    /// loses, half on a tie, and all of it when either is NaN (nothing wins; PyTorch's rule).
    /// </summary>
    private readonly struct MaxMinGrad<T>(bool max) : IVectorOp3<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Vector<T> Invoke(Vector<T> x, Vector<T> other, Vector<T> dy)
        {
            var loses = max ? Vector.LessThan(x, other) : Vector.GreaterThan(x, other);
            var share = Vector.ConditionalSelect(Vector.Equals(x, other), VectorMath.Splat<T>(0.5),
                Vector.ConditionalSelect(loses, Vector<T>.Zero, Vector<T>.One));
            return dy * share;
        }
    }
}
