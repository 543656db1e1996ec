namespace PeftEngine.Cpu;

public sealed partial class ReferenceBackend
{
    public void Softmax(Tensor x, Tensor y, bool log)
    {
        var (rows, n) = RowsOf(x);
        for (long r = 0; r < rows; r++)
        {
            long xo = x.Offset + r * n, yo = y.Offset + r * n;
            double max = double.NegativeInfinity;
            for (int j = 0; j < n; j++) max = Math.Max(max, ReadAsDouble(x, xo + j));
            double sum = 0;
            for (int j = 0; j < n; j++) sum += Math.Exp(ReadAsDouble(x, xo + j) - max);
            double logSum = Math.Log(sum);
            for (int j = 0; j < n; j++)
            {
                double shifted = ReadAsDouble(x, xo + j) - max;
                WriteDouble(y, yo + j, log ? shifted - logSum : Math.Exp(shifted) / sum);
            }
        }
    }

    public void SoftmaxBackward(Tensor y, Tensor dy, Tensor dx, bool log)
    {
        var (rows, n) = RowsOf(y);
        for (long r = 0; r < rows; r++)
        {
            long yo = y.Offset + r * n, go = dy.Offset + r * n, xo = dx.Offset + r * n;
            // softmax: Σ dy·y; log-softmax: Σ dy
            double s = 0;
            for (int j = 0; j < n; j++) s += ReadAsDouble(dy, go + j) * (log ? 1 : ReadAsDouble(y, yo + j));
            for (int j = 0; j < n; j++)
            {
                double yj = ReadAsDouble(y, yo + j), gj = ReadAsDouble(dy, go + j);
                WriteDouble(dx, xo + j, log ? gj - Math.Exp(yj) * s : yj * (gj - s));
            }
        }
    }

    /// <summary>A contiguous tensor seen as (rows, n) with n its last size (1 for a scalar).</summary>
    internal static (long Rows, int N) RowsOf(Tensor t)
    {
        int n = t.Rank == 0 ? 1 : t.Shape[-1];
        return (n == 0 ? 0 : t.Numel / n, n);
    }
}
