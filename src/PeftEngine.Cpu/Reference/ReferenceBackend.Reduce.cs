namespace PeftEngine.Cpu;

public sealed partial class ReferenceBackend
{
    public void Reduce(ReduceOp op, Tensor x, int dim, Tensor y, Tensor? indices = null)
    {
        // x contiguous, viewed as (outer, n, inner); y is (outer, 1, inner)
        var (outer, n, inner) = ReduceGeometry(x.Shape, dim);
        for (long o = 0; o < outer; o++)
            for (long i = 0; i < inner; i++)
            {
                double acc = op switch
                {
                    ReduceOp.Max => double.NegativeInfinity,
                    ReduceOp.Min => double.PositiveInfinity,
                    ReduceOp.Prod => 1,
                    _ => 0,
                };
                long best = 0;
                for (long k = 0; k < n; k++)
                {
                    double v = ReadAsDouble(x, x.Offset + (o * n + k) * inner + i);
                    switch (op)
                    {
                        case ReduceOp.Sum or ReduceOp.Mean: acc += v; break;
                        case ReduceOp.Prod: acc *= v; break;
                        case ReduceOp.Max when v > acc || double.IsNaN(v) && !double.IsNaN(acc): acc = v; best = k; break;
                        case ReduceOp.Min when v < acc || double.IsNaN(v) && !double.IsNaN(acc): acc = v; best = k; break;
                    }
                }
                if (op == ReduceOp.Mean) acc /= n;
                WriteDouble(y, y.Offset + o * inner + i, acc);
                if (indices is not null) WriteDouble(indices, indices.Offset + o * inner + i, best);
            }
    }

    /// <summary>(product of dims before, size of dim, product of dims after).</summary>
    internal static (long Outer, long N, long Inner) ReduceGeometry(Shape shape, int dim)
    {
        long outer = 1, inner = 1;
        for (int d = 0; d < dim; d++) outer *= shape[d];
        for (int d = dim + 1; d < shape.Rank; d++) inner *= shape[d];
        return (outer, shape[dim], inner);
    }
}
