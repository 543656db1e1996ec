using System.Numerics;
using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Reduce(ReduceOp op, Tensor x, int dim, Tensor y, Tensor? indices = null)
    {
        switch (x.DType)
        {
            case DType.F32: ReduceTyped<float>(op, x, dim, y, indices); break;
            case DType.F64: ReduceTyped<double>(op, x, dim, y, indices); break;
            default: throw Unsupported($"Reduce {op}", x.DType);
        }
    }

    private static void ReduceTyped<T>(ReduceOp op, Tensor x, int dim, Tensor y, Tensor? indices)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (outer, n, inner) = ReferenceBackend.ReduceGeometry(x.Shape, dim);
        T* px = Ptr<T>(x), py = Ptr<T>(y);
        long* pi = indices is null ? null : Ptr<long>(indices);
        if (op is ReduceOp.Sum or ReduceOp.Mean && pi == null)
        {
            T scale = op == ReduceOp.Mean ? T.One / T.CreateTruncating(n) : T.One;
            if (inner == 1)
            {
                // Each output is the sum of one contiguous row of n elements.
                CpuParallel.For(outer, n, (o0, o1) =>
                {
                    for (long o = o0; o < o1; o++)
                        py[o] = TensorPrimitives.Sum(new ReadOnlySpan<T>(px + o * n, (int)n)) * scale;
                });
            }
            else
            {
                // Add n rows of length inner into the output row, in order.
                CpuParallel.For(outer, n * inner, (o0, o1) =>
                {
                    for (long o = o0; o < o1; o++)
                    {
                        var dst = new Span<T>(py + o * inner, (int)inner);
                        dst.Clear();
                        for (long k = 0; k < n; k++)
                            TensorPrimitives.Add(dst, new ReadOnlySpan<T>(px + (o * n + k) * inner, (int)inner), dst);
                        if (op == ReduceOp.Mean) TensorPrimitives.Multiply(dst, scale, dst);
                    }
                });
            }
            return;
        }
        // Max, Min, Prod (and arg variants): a plain loop per output element.
        CpuParallel.For(outer * inner, n, (j0, j1) =>
        {
            for (long j = j0; j < j1; j++)
            {
                long o = j / inner, i = j % inner;
                T* p = px + o * n * inner + i;
                T acc = p[0];
                long best = 0;
                for (long k = 1; k < n; k++)
                {
                    T v = p[k * inner];
                    switch (op)
                    {
                        case ReduceOp.Prod: acc *= v; break;
                        case ReduceOp.Max when v > acc || T.IsNaN(v) && !T.IsNaN(acc): acc = v; best = k; break;
                        case ReduceOp.Min when v < acc || T.IsNaN(v) && !T.IsNaN(acc): acc = v; best = k; break;
                        case ReduceOp.Sum or ReduceOp.Mean: acc += v; break;
                    }
                }
                if (op == ReduceOp.Mean) acc /= T.CreateTruncating(n);
                py[j] = n == 0 ? T.Zero : acc;
                if (pi != null) pi[j] = best;
            }
        });
    }
}
