using System.Numerics;
using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Softmax(Tensor x, Tensor y, bool log)
    {
        switch (x.DType)
        {
            case DType.F32: SoftmaxRows<float>(x, y, log); break;
            case DType.F64: SoftmaxRows<double>(x, y, log); break;
            default: throw Unsupported(log ? "LogSoftmax" : "Softmax", x.DType);
        }
    }

    public void SoftmaxBackward(Tensor y, Tensor dy, Tensor dx, bool log)
    {
        switch (y.DType)
        {
            case DType.F32: SoftmaxBackwardRows<float>(y, dy, dx, log); break;
            case DType.F64: SoftmaxBackwardRows<double>(y, dy, dx, log); break;
            default: throw Unsupported(log ? "LogSoftmaxBackward" : "SoftmaxBackward", y.DType);
        }
    }

    private static void SoftmaxRows<T>(Tensor x, Tensor y, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (rows, n) = ReferenceBackend.RowsOf(x);
        T* px = Ptr<T>(x), py = Ptr<T>(y);
        CpuParallel.For(rows, n * 4L, (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
                SoftmaxRow(new ReadOnlySpan<T>(px + r * n, n), new Span<T>(py + r * n, n), log);
        });
    }

    /// <summary>Softmax or log-softmax of one row, stabilised by the row maximum. y is also the scratch space.</summary>
    private static void SoftmaxRow<T>(ReadOnlySpan<T> x, Span<T> y, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, y);
        TensorPrimitives.Exp(y, y);
        T sum = TensorPrimitives.Sum<T>(y);
        if (log) TensorPrimitives.Subtract(x, max + T.Log(sum), y); // x - m - log Σ exp(x - m)
        else TensorPrimitives.Multiply(y, T.One / sum, y);
    }

    private static void SoftmaxBackwardRows<T>(Tensor y, Tensor dy, Tensor dx, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (rows, n) = ReferenceBackend.RowsOf(y);
        T* py = Ptr<T>(y), pg = Ptr<T>(dy), pd = Ptr<T>(dx);
        CpuParallel.For(rows, n * 3L, (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                var yr = new ReadOnlySpan<T>(py + r * n, n);
                var gr = new ReadOnlySpan<T>(pg + r * n, n);
                var dr = new Span<T>(pd + r * n, n);
                if (log)
                {
                    // dx = dy - exp(y) Σ dy
                    T s = TensorPrimitives.Sum(gr);
                    TensorPrimitives.Exp(yr, dr);
                    TensorPrimitives.MultiplyAdd(dr, -s, gr, dr);
                }
                else
                {
                    // dx = y (dy - Σ dy y)
                    T s = TensorPrimitives.Dot(gr, yr);
                    TensorPrimitives.Subtract(gr, s, dr);
                    TensorPrimitives.Multiply(dr, yr, dr);
                }
            }
        });
    }
}
