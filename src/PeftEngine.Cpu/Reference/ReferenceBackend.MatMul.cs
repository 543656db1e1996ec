namespace PeftEngine.Cpu;

public sealed partial class ReferenceBackend
{
    /// <summary>The definition of GEMM: for each batch t, row i and column j,
    /// c[t, i, j] = alpha · Σ_p op(a)[t, i, p] · op(b)[t, p, j] + beta · c[t, i, j] (+ bias[j]), summed in double.</summary>
    public void Gemm(Tensor a, Tensor b, Tensor c, bool transA, bool transB, double alpha = 1, double beta = 0, Tensor? bias = null)
    {
        var (batch, m, n, k) = GemmShape.Check(a, b, c, transA, transB, bias);
        var sa = a.StridesArray();
        var sb = b.StridesArray();
        // op(x)[t, i, p] lives at x.Offset + t*s[0] + i*s[1] + p*s[2], with s[1] and s[2] swapped by a transpose.
        long aRow = transA ? sa[2] : sa[1], aCol = transA ? sa[1] : sa[2];
        long bRow = transB ? sb[2] : sb[1], bCol = transB ? sb[1] : sb[2];
        for (long t = 0; t < batch; t++)
            for (long i = 0; i < m; i++)
                for (long j = 0; j < n; j++)
                {
                    double sum = 0;
                    for (long p = 0; p < k; p++)
                        sum += ReadAsDouble(a, a.Offset + t * sa[0] + i * aRow + p * aCol)
                             * ReadAsDouble(b, b.Offset + t * sb[0] + p * bRow + j * bCol);
                    long ci = c.Offset + (t * m + i) * n + j;
                    double old = beta == 0 ? 0 : beta * ReadAsDouble(c, ci);
                    if (bias is not null) old += ReadAsDouble(bias, bias.Offset + j);
                    WriteDouble(c, ci, alpha * sum + old);
                }
    }
}
