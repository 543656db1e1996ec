using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

/// <summary>
/// Householder QR of one row-major m×n matrix of doubles. The matrix is first transposed so that every column
/// is a contiguous row: then each reflector H_j = I - τ·v·vᵀ is applied to the remaining columns as a SIMD
/// dot product and multiply-add per column, the columns in parallel. Q is formed by applying the reflectors
/// backwards to the unit vectors (column c only meets reflectors j ≤ c).
/// </summary>
/// <remarks>Fast path of IBackend.Qr; LAPACK: dgeqrf + dorgqr; PyTorch: torch.linalg.qr. Sign convention:
/// the reflector maps x to -sign(x₀)·‖x‖·e₀, so R's diagonal may be negative (as in LAPACK).</remarks>
internal static unsafe class HouseholderQr
{
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
            for (int j = 0; j < k; j++)
            {
                int len = m - j;
                var x = new Span<double>(cols + (long)j * m + j, len);
                double norm = TensorPrimitives.Norm((ReadOnlySpan<double>)x);
                if (norm == 0) { tau[j] = 0; diag[j] = 0; continue; }
                double x0 = x[0];
                double alpha = x0 >= 0 ? -norm : norm;
                double v0 = x0 - alpha;
                x[0] = v0;                                   // v = x - alpha·e0, stored in place of x
                double vv = norm * norm - x0 * x0 + v0 * v0; // ‖v‖²
                tau[j] = vv == 0 ? 0 : 2 / vv;
                diag[j] = alpha;
                double t = tau[j];
                if (t == 0) continue;
                int jj = j;
                CpuParallel.For(n - j - 1, (long)len * 2, (c0, c1) =>
                {
                    var v = new ReadOnlySpan<double>(cols + (long)jj * m + jj, len);
                    for (long c = c0; c < c1; c++)
                    {
                        var col = new Span<double>(cols + (jj + 1 + c) * m + jj, len);
                        double f = t * TensorPrimitives.Dot(v, col);
                        if (f != 0) TensorPrimitives.MultiplyAdd(v, -f, col, col); // col -= τ(v·col) v
                    }
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
                CpuParallel.For(kq, (long)m * Math.Min(k, 64), (c0, c1) =>
                {
                    for (long c = c0; c < c1; c++)
                    {
                        double* col = qcols + c * m;
                        col[c] = 1;
                        for (int j = (int)Math.Min(c, k - 1); j >= 0; j--)
                        {
                            if (tau[j] == 0) continue;
                            int len = m - j;
                            var v = new ReadOnlySpan<double>(cols + (long)j * m + j, len);
                            var part = new Span<double>(col + j, len);
                            double f = tau[j] * TensorPrimitives.Dot(v, part);
                            if (f != 0) TensorPrimitives.MultiplyAdd(v, -f, part, part);
                        }
                    }
                });
                for (int i = 0; i < m; i++)
                    for (int c = 0; c < kq; c++) q[(long)i * kq + c] = qcols[(long)c * m + i];
            }
        }
    }
}
