namespace PeftEngine.Cpu;

public sealed unsafe partial class ReferenceBackend
{
    public void IndexSelect(Tensor x, int dim, Tensor index, Tensor y)
    {
        var (outer, n, inner) = ReduceGeometry(x.Shape, dim);
        long m = index.Numel;
        for (long o = 0; o < outer; o++)
            for (long j = 0; j < m; j++)
            {
                long k = ReadIndex(index, j);
                for (long i = 0; i < inner; i++)
                    CopyElementBytes(x, x.Offset + (o * n + k) * inner + i, y, y.Offset + (o * m + j) * inner + i);
            }
    }

    public void IndexAdd(Tensor y, int dim, Tensor index, Tensor src)
    {
        var (outer, n, inner) = ReduceGeometry(y.Shape, dim);
        long m = index.Numel;
        // Accumulate in double, then round once.
        var acc = ReadAll(y);
        for (long o = 0; o < outer; o++)
            for (long j = 0; j < m; j++)
            {
                long k = ReadIndex(index, j);
                for (long i = 0; i < inner; i++)
                    acc[(o * n + k) * inner + i] += ReadAsDouble(src, src.Offset + (o * m + j) * inner + i);
            }
        WriteAll(y, acc);
    }

    public void Gather(Tensor x, int dim, Tensor index, Tensor y)
    {
        var (outer, n, inner) = ReduceGeometry(x.Shape, dim);
        long m = index.Shape[dim];
        for (long o = 0; o < outer; o++)
            for (long j = 0; j < m; j++)
                for (long i = 0; i < inner; i++)
                {
                    long at = (o * m + j) * inner + i;
                    long k = ReadIndex(index, at);
                    CopyElementBytes(x, x.Offset + (o * n + k) * inner + i, y, y.Offset + at);
                }
    }

    public void ScatterAdd(Tensor y, int dim, Tensor index, Tensor src)
    {
        var (outer, n, inner) = ReduceGeometry(y.Shape, dim);
        long m = index.Shape[dim];
        var acc = ReadAll(y);
        for (long o = 0; o < outer; o++)
            for (long j = 0; j < m; j++)
                for (long i = 0; i < inner; i++)
                {
                    long at = (o * m + j) * inner + i;
                    long k = ReadIndex(index, at);
                    acc[(o * n + k) * inner + i] += ReadAsDouble(src, src.Offset + at);
                }
        WriteAll(y, acc);
    }

    public void MaskedFill(Tensor x, Tensor mask, double value, Tensor y)
    {
        var xs = ElementOffsets(x).ToArray();
        var ms = ElementOffsets(mask).ToArray();
        var ys = ElementOffsets(y).ToArray();
        for (long e = 0; e < ys.Length; e++)
            WriteDouble(y, ys[e], ReadAsDouble(mask, ms[e]) != 0 ? value : ReadAsDouble(x, xs[e]));
    }

    public void Triangle(Tensor x, Tensor y, int diagonal, bool upper)
    {
        int rows = x.Shape[-2], cols = x.Shape[-1];
        long matrices = x.Numel / Math.Max(1L, (long)rows * cols);
        for (long b = 0; b < matrices; b++)
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++)
                {
                    long e = (b * rows + r) * cols + c;
                    bool keep = upper ? c >= (long)r + diagonal : c <= (long)r + diagonal;
                    if (keep) CopyElementBytes(x, x.Offset + e, y, y.Offset + e);
                    else WriteDouble(y, y.Offset + e, 0);
                }
    }

    public void Arange(Tensor y, double start, double step)
    {
        bool integral = y.DType == DType.I64 && double.IsInteger(start) && double.IsInteger(step);
        for (long i = 0; i < y.Numel; i++)
        {
            if (integral) Ptr<long>(y)[i] = (long)start + i * (long)step;
            else WriteDouble(y, y.Offset + i, start + i * step);
        }
    }

    private static long ReadIndex(Tensor index, long i) => Ptr<long>(index)[i];

    /// <summary>The elements of a contiguous tensor as doubles.</summary>
    private static double[] ReadAll(Tensor t)
    {
        var a = new double[t.Numel];
        for (long i = 0; i < a.Length; i++) a[i] = ReadAsDouble(t, t.Offset + i);
        return a;
    }

    private static void WriteAll(Tensor t, double[] a)
    {
        for (long i = 0; i < a.Length; i++) WriteDouble(t, t.Offset + i, a[i]);
    }
}
