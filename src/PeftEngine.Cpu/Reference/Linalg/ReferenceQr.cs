namespace PeftEngine.Cpu;

/// <summary>
/// Householder QR in its textbook form on a row-major copy: for each column j, the reflector
/// H_j = I - τ·v·vᵀ with v = x - α·e₀, α = -sign(x₀)·‖x‖, is applied to the trailing block of R, and
/// Q = H₀·H₁·…·H_{k-1} is accumulated by multiplying each reflector on the right.
/// </summary>
internal static unsafe class ReferenceQr
{
    public static void Decompose(double* a, int m, int n, double* q, double* r, bool complete)
    {
        int k = Math.Min(m, n);
        var rr = new double[m, n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) rr[i, j] = a[(long)i * n + j];
        var qq = new double[m, m];
        for (int i = 0; i < m; i++) qq[i, i] = 1;
        var v = new double[m];
        for (int j = 0; j < k; j++)
        {
            double norm = 0;
            for (int i = j; i < m; i++) norm += rr[i, j] * rr[i, j];
            norm = Math.Sqrt(norm);
            if (norm == 0) continue;
            double alpha = rr[j, j] >= 0 ? -norm : norm;
            double vv = 0;
            for (int i = j; i < m; i++)
            {
                v[i] = rr[i, j] - (i == j ? alpha : 0);
                vv += v[i] * v[i];
            }
            if (vv == 0) continue;
            double tau = 2 / vv;
            for (int c = j; c < n; c++) // R := H·R
            {
                double d = 0;
                for (int i = j; i < m; i++) d += v[i] * rr[i, c];
                for (int i = j; i < m; i++) rr[i, c] -= tau * d * v[i];
            }
            for (int row = 0; row < m; row++) // Q := Q·H
            {
                double d = 0;
                for (int i = j; i < m; i++) d += qq[row, i] * v[i];
                for (int i = j; i < m; i++) qq[row, i] -= tau * d * v[i];
            }
        }
        int kq = complete ? m : k;
        for (int i = 0; i < m; i++)
            for (int c = 0; c < kq; c++) q[(long)i * kq + c] = qq[i, c];
        for (int i = 0; i < kq; i++)
            for (int c = 0; c < n; c++) r[(long)i * n + c] = c < i ? 0 : rr[i, c];
    }
}
