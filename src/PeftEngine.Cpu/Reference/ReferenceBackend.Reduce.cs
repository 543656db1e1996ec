namespace PeftEngine.Cpu;

public sealed partial class ReferenceBackend
{
    /// <summary>
    /// One plain loop per output element, in double. Max/Min take the first extreme element: a later element
    /// replaces the running one only when strictly greater (smaller), or when it is NaN and the running one is
    /// not, so NaN wins and ties (including -0 vs +0) keep the first index.
    /// </summary>
    public void Reduce(ReduceOp op, Tensor x, int dim, Tensor y, Tensor? indices = null)
    {
        // x contiguous, viewed as (outer, n, inner); y is (outer, 1, inner)
        var (outer, n, inner) = ReduceGeometry(x.Shape, dim);
        for (long o = 0; o < outer; o++)
            for (long i = 0; i < inner; i++)
            {
                double At(long k) => ReadAsDouble(x, x.Offset + (o * n + k) * inner + i);
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
                    double v = At(k);
                    switch (op)
                    {
                        case ReduceOp.Sum or ReduceOp.Mean: acc += v; break;
                        case ReduceOp.Prod: acc *= v; break;
                        case ReduceOp.Max or ReduceOp.LogSumExp when v > acc || double.IsNaN(v) && !double.IsNaN(acc): acc = v; best = k; break;
                        case ReduceOp.Min when v < acc || double.IsNaN(v) && !double.IsNaN(acc): acc = v; best = k; break;
                    }
                }
                if (op == ReduceOp.Mean) acc /= n;
                if (op == ReduceOp.LogSumExp)
                {
                    // acc is the maximum m (or -inf for an empty slice): log Σ exp(x) = m + log Σ exp(x - m).
                    double m = n == 0 ? double.NegativeInfinity : acc;
                    if (double.IsFinite(m))
                    {
                        double s = 0;
                        for (long k = 0; k < n; k++) s += Math.Exp(At(k) - m);
                        acc = m + Math.Log(s);
                    }
                    else acc = m; // ±inf or NaN decide the result on their own
                }
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
