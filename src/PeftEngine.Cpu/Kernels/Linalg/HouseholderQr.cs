using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

/// <summary>
/// Householder QR of one row-major m×n matrix of doubles. The matrix is first transposed so that every column
/// is a contiguous row; reflectors H_j = I - τ_j·v_j·v_jᵀ are then applied column by column as a SIMD dot
/// product and multiply-add. For the cache the work is done in panels of <see cref="Panel"/> columns: a panel's
/// reflectors are found using only the panel's columns, then applied together to each trailing column (the
/// column stays in L1 while the panel's reflectors stay in L2), trailing columns in parallel. Q is formed the
/// same way, panels applied backwards to the unit vectors.
/// </summary>
/// <remarks>Fast path of IBackend.Qr; LAPACK: dgeqrf + dorgqr; PyTorch: torch.linalg.qr. Sign convention:
/// the reflector maps x to -sign(x₀)·‖x‖·e₀, so R's diagonal may be negative (as in LAPACK).</remarks>
internal static unsafe class HouseholderQr
{
    private const int Panel = 32;

    /// <summary>Q (m×kq) and R (kr×n), row-major; kq = kr = min(m, n) reduced, kq = kr = m complete.</summary>
    public static void Decompose(double* a, int m, int n, double* q, double* r, bool complete)
    {
        int k = Math.Min(m, n);
        var w = new double[(long)n * m]; // w[j·m + i] = a[i, j]: column j is contiguous
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) w[(long)j * m + i] = a[(long)i * n + j];
        var tau = new double[k];
        var diag = new double[k];
        fixed (double* pw = w)
        {
            double* cols = pw;
            for (int p0 = 0; p0 < k; p0 += Panel)
            {
                int p1 = Math.Min(k, p0 + Panel);
                for (int j = p0; j < p1; j++)
                {
                    MakeReflector(cols + (long)j * m, m, j, out tau[j], out diag[j]);
                    for (int c = j + 1; c < p1; c++) Reflect(cols, m, j, tau[j], cols + (long)c * m);
                }
                int first = p1, count = n - p1;
                int pa = p0, pb = p1;
                CpuParallel.For(count, 4L * m * (pb - pa), (c0, c1) =>
                {
                    for (long c = c0; c < c1; c++)
                        for (int j = pa; j < pb; j++) Reflect(cols, m, j, tau[j], cols + (first + c) * m);
                });
            }

            int kr = complete ? m : k;
            for (int i = 0; i < kr; i++)
                for (int j = 0; j < n; j++)
                    r[(long)i * n + j] = i >= k || j < i ? 0 : j == i ? diag[i] : cols[(long)j * m + i];

            int kq = complete ? m : k;
            var qc = new double[(long)kq * m]; // column c of Q, contiguous
            fixed (double* pq = qc)
            {
                double* qcols = pq;
                for (int c = 0; c < kq; c++) qcols[(long)c * m + c] = 1;
                // Q·e_c = H_0·…·H_{k-1}·e_c: panels from the last, each applied backwards to every column;
                // H_j leaves e_c unchanged for j > c, so column c starts at its own panel.
                int lastPanel = (k - 1) / Panel * Panel;
                for (int p0 = lastPanel; p0 >= 0; p0 -= Panel)
                {
                    int p1 = Math.Min(k, p0 + Panel), pa = p0;
                    CpuParallel.For(kq - pa, 4L * m * (p1 - pa), (c0, c1) =>
                    {
                        for (long cc = c0; cc < c1; cc++)
                        {
                            long c = pa + cc;
                            for (int j = (int)Math.Min(p1 - 1, c); j >= pa; j--) Reflect(cols, m, j, tau[j], qcols + c * m);
                        }
                    });
                }
                for (int i = 0; i < m; i++)
                    for (int c = 0; c < kq; c++) q[(long)i * kq + c] = qcols[(long)c * m + i];
            }
        }
    }

    /// <summary>Turns column j's tail x = col[j..m) into v = x - α·e₀ in place, α = -sign(x₀)·‖x‖, with
    /// τ = 2 / ‖v‖² (0 when x is already zero, H = I).</summary>
    private static void MakeReflector(double* col, int m, int j, out double tau, out double alpha)
    {
        int len = m - j;
        var x = new Span<double>(col + j, len);
        double norm = TensorPrimitives.Norm((ReadOnlySpan<double>)x);
        if (norm == 0) { tau = 0; alpha = 0; return; }
        double x0 = x[0];
        alpha = x0 >= 0 ? -norm : norm;
        double v0 = x0 - alpha;
        x[0] = v0;
        double vv = norm * norm - x0 * x0 + v0 * v0; // ‖v‖²
        tau = vv == 0 ? 0 : 2 / vv;
    }

    /// <summary>target[j..m) -= τ·(v_j·target[j..m))·v_j, with v_j stored in column j of cols.</summary>
    private static void Reflect(double* cols, int m, int j, double tau, double* target)
    {
        if (tau == 0) return;
        int len = m - j;
        var v = new ReadOnlySpan<double>(cols + (long)j * m + j, len);
        var part = new Span<double>(target + j, len);
        double f = tau * TensorPrimitives.Dot(v, part);
        if (f != 0) TensorPrimitives.MultiplyAdd(v, -f, part, part);
    }
}
