using System.Numerics;
using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

/// <summary>
/// Prefix scans along one dimension of a contiguous (outer, n, inner) view. A scan is sequential along its
/// axis, so the parallelism is across the other axes: rows in parallel when inner == 1 (a scalar running value
/// per row), otherwise blocks of columns in parallel with SIMD adds of whole rows (y[k] = y[k-1] + x[k]).
/// </summary>
public sealed unsafe partial class CpuBackend
{
    public void Scan(ScanOp op, Tensor x, int dim, Tensor y, bool reverse = false, bool exclusive = false)
    {
        switch (x.DType)
        {
            case DType.F32: ScanTyped<float>(op, x, dim, y, reverse, exclusive); break;
            case DType.F64: ScanTyped<double>(op, x, dim, y, reverse, exclusive); break;
            default: throw Unsupported($"Scan {op}", x.DType);
        }
    }

    private static void ScanTyped<T>(ScanOp op, Tensor x, int dim, Tensor y, bool reverse, bool exclusive)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (outer, n, inner) = ReferenceBackend.ReduceGeometry(x.Shape, dim);
        T* px = Ptr<T>(x), py = Ptr<T>(y);
        bool sum = op == ScanOp.Sum;
        T identity = sum ? T.Zero : T.One;
        if (n == 0 || outer * inner == 0) return;
        if (inner == 1)
        {
            CpuParallel.For(outer, n, (r0, r1) =>
            {
                for (long r = r0; r < r1; r++)
                {
                    T* xr = px + r * n, yr = py + r * n;
                    T acc = identity;
                    for (long step = 0; step < n; step++)
                    {
                        long k = reverse ? n - 1 - step : step;
                        T v = xr[k];
                        if (exclusive) yr[k] = acc;
                        acc = sum ? acc + v : acc * v;
                        if (!exclusive) yr[k] = acc;
                    }
                }
            });
            return;
        }
        ForColumnBlocks(outer, inner, n, (o, c0, len) =>
        {
            T* xs = px + o * n * inner + c0, ys = py + o * n * inner + c0; // row k at + k * inner
            long Row(long step) => reverse ? n - 1 - step : step;
            // The first row combines with the identity, exactly as the running value starts.
            var first = new Span<T>(ys + Row(0) * inner, len);
            if (exclusive) first.Fill(identity);
            else if (sum) TensorPrimitives.Add(new ReadOnlySpan<T>(xs + Row(0) * inner, len), identity, first);
            else TensorPrimitives.Multiply(new ReadOnlySpan<T>(xs + Row(0) * inner, len), identity, first);
            for (long step = 1; step < n; step++)
            {
                long k = Row(step), prev = Row(step - 1);
                var acc = new ReadOnlySpan<T>(ys + prev * inner, len);
                // inclusive: y[k] = y[prev] ∘ x[k]; exclusive: y[k] = y[prev] ∘ x[prev]
                var v = new ReadOnlySpan<T>(xs + (exclusive ? prev : k) * inner, len);
                var dst = new Span<T>(ys + k * inner, len);
                if (sum) TensorPrimitives.Add(acc, v, dst);
                else TensorPrimitives.Multiply(acc, v, dst);
            }
        });
    }
}
