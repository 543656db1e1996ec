namespace PeftEngine.Cpu;

public sealed partial class ReferenceBackend
{
    public void LayerNorm(Tensor x, Tensor? weight, Tensor? bias, double eps, Tensor y, Tensor mean, Tensor rstd)
    {
        var (rows, n) = RowsOf(x);
        for (long r = 0; r < rows; r++)
        {
            long xo = x.Offset + r * n, yo = y.Offset + r * n;
            double mu = 0;
            for (int j = 0; j < n; j++) mu += ReadAsDouble(x, xo + j);
            mu /= n;
            double variance = 0;
            for (int j = 0; j < n; j++)
            {
                double d = ReadAsDouble(x, xo + j) - mu;
                variance += d * d;
            }
            variance /= n;
            double rs = 1 / Math.Sqrt(variance + eps);
            for (int j = 0; j < n; j++)
            {
                double xhat = (ReadAsDouble(x, xo + j) - mu) * rs;
                WriteDouble(y, yo + j, xhat * ReadOr(weight, j, 1) + ReadOr(bias, j, 0));
            }
            WriteDouble(mean, mean.Offset + r, mu);
            WriteDouble(rstd, rstd.Offset + r, rs);
        }
    }

    public void LayerNormBackward(Tensor x, Tensor? weight, Tensor mean, Tensor rstd, Tensor dy,
        Tensor? dx, Tensor? dweight, Tensor? dbias)
    {
        var (rows, n) = RowsOf(x);
        var dw = new double[n];
        var db = new double[n];
        for (long r = 0; r < rows; r++)
        {
            long xo = x.Offset + r * n, go = dy.Offset + r * n;
            double mu = ReadAsDouble(mean, mean.Offset + r), rs = ReadAsDouble(rstd, rstd.Offset + r);
            // mean_j(g) and mean_j(g x̂), with g = dy * weight
            double meanG = 0, meanGX = 0;
            for (int j = 0; j < n; j++)
            {
                double xhat = (ReadAsDouble(x, xo + j) - mu) * rs;
                double gy = ReadAsDouble(dy, go + j);
                double g = gy * ReadOr(weight, j, 1);
                meanG += g;
                meanGX += g * xhat;
                dw[j] += gy * xhat;
                db[j] += gy;
            }
            meanG /= n;
            meanGX /= n;
            if (dx is null) continue;
            for (int j = 0; j < n; j++)
            {
                double xhat = (ReadAsDouble(x, xo + j) - mu) * rs;
                double g = ReadAsDouble(dy, go + j) * ReadOr(weight, j, 1);
                WriteDouble(dx, dx.Offset + r * n + j, rs * (g - meanG - xhat * meanGX));
            }
        }
        for (int j = 0; j < n; j++)
        {
            if (dweight is not null) WriteDouble(dweight, dweight.Offset + j, dw[j]);
            if (dbias is not null) WriteDouble(dbias, dbias.Offset + j, db[j]);
        }
    }

    public void RmsNorm(Tensor x, Tensor? weight, double eps, Tensor y, Tensor rstd)
    {
        var (rows, n) = RowsOf(x);
        for (long r = 0; r < rows; r++)
        {
            long xo = x.Offset + r * n, yo = y.Offset + r * n;
            double squares = 0;
            for (int j = 0; j < n; j++)
            {
                double v = ReadAsDouble(x, xo + j);
                squares += v * v;
            }
            double rs = 1 / Math.Sqrt(squares / n + eps);
            for (int j = 0; j < n; j++)
                WriteDouble(y, yo + j, ReadAsDouble(x, xo + j) * rs * ReadOr(weight, j, 1));
            WriteDouble(rstd, rstd.Offset + r, rs);
        }
    }

    public void RmsNormBackward(Tensor x, Tensor? weight, Tensor rstd, Tensor dy, Tensor? dx, Tensor? dweight)
    {
        var (rows, n) = RowsOf(x);
        var dw = new double[n];
        for (long r = 0; r < rows; r++)
        {
            long xo = x.Offset + r * n, go = dy.Offset + r * n;
            double rs = ReadAsDouble(rstd, rstd.Offset + r);
            double meanGX = 0;
            for (int j = 0; j < n; j++)
            {
                double xhat = ReadAsDouble(x, xo + j) * rs;
                double gy = ReadAsDouble(dy, go + j);
                meanGX += gy * ReadOr(weight, j, 1) * xhat;
                dw[j] += gy * xhat;
            }
            meanGX /= n;
            if (dx is null) continue;
            for (int j = 0; j < n; j++)
            {
                double xhat = ReadAsDouble(x, xo + j) * rs;
                double g = ReadAsDouble(dy, go + j) * ReadOr(weight, j, 1);
                WriteDouble(dx, dx.Offset + r * n + j, rs * (g - xhat * meanGX));
            }
        }
        if (dweight is not null)
            for (int j = 0; j < n; j++) WriteDouble(dweight, dweight.Offset + j, dw[j]);
    }

    /// <summary>Element <paramref name="index"/> of an optional weight or bias, or <paramref name="absent"/> without one.</summary>
    private static double ReadOr(Tensor? t, long index, double absent) =>
        t is null ? absent : ReadAsDouble(t, t.Offset + index);
}
