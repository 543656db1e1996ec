namespace PeftEngine.Cpu;

public sealed partial class ReferenceBackend
{
    public void Scan(ScanOp op, Tensor x, int dim, Tensor y, bool reverse = false, bool exclusive = false)
    {
        // x and y contiguous, viewed as (outer, n, inner); one running value per (o, i) column
        var (outer, n, inner) = ReduceGeometry(x.Shape, dim);
        double identity = op == ScanOp.Sum ? 0 : 1;
        for (long o = 0; o < outer; o++)
            for (long i = 0; i < inner; i++)
            {
                double acc = identity;
                for (long step = 0; step < n; step++)
                {
                    long k = reverse ? n - 1 - step : step;
                    long xi = x.Offset + (o * n + k) * inner + i;
                    long yi = y.Offset + (o * n + k) * inner + i;
                    double v = ReadAsDouble(x, xi);
                    if (exclusive) WriteDouble(y, yi, acc);
                    acc = op == ScanOp.Sum ? acc + v : acc * v;
                    if (!exclusive) WriteDouble(y, yi, acc);
                }
            }
    }
}
