namespace PeftEngine.Cpu;

/// <summary>
/// Eigendecomposition of one symmetric n×n matrix by the cyclic two-sided Jacobi method: each rotation
/// J(p, q, θ) zeroes the off-diagonal pair (p, q) of A := Jᵀ·A·J and is accumulated into V := V·J, until the
/// off-diagonal mass is below round-off. Slower than tridiagonal QR for large n but simple and accurate to
/// high relative precision, which suits the small symmetric problems of PEFT (r×r Gram matrices, covariances).
/// </summary>
/// <remarks>Shared by the fast and the reference CPU backends (see IBackend.Linalg). LAPACK: dsyevj-style;
/// torch.linalg.eigh.</remarks>
internal static unsafe class JacobiEigen
{
    private const int MaxSweeps = 60;

    /// <summary>Eigenvalues w (ascending) and eigenvectors (columns of v, row-major n×n) of the symmetric
    /// matrix whose lower triangle is in a.</summary>
    public static void Decompose(double* a, int n, double* w, double* v)
    {
        var m = new double[(long)n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
                m[(long)i * n + j] = m[(long)j * n + i] = a[(long)i * n + j];
        var vv = new double[(long)n * n];
        for (int i = 0; i < n; i++) vv[(long)i * n + i] = 1;

        double total = 0;
        foreach (double x in m) total += x * x;
        for (int sweep = 0; sweep < MaxSweeps; sweep++)
        {
            double off = 0;
            for (int p = 0; p < n; p++)
                for (int q = p + 1; q < n; q++) off += m[(long)p * n + q] * m[(long)p * n + q];
            if (off <= 1e-32 * total || off == 0) break;
            for (int p = 0; p < n - 1; p++)
                for (int q = p + 1; q < n; q++)
                    Rotate(m, vv, n, p, q);
        }

        // ascending eigenvalues, eigenvectors as columns in the same order
        var order = Enumerable.Range(0, n).OrderBy(i => m[(long)i * n + i]).ToArray();
        for (int c = 0; c < n; c++)
        {
            int src = order[c];
            w[c] = m[(long)src * n + src];
            for (int r = 0; r < n; r++) v[(long)r * n + c] = vv[(long)r * n + src];
        }
    }

    /// <summary>One Jacobi rotation in the (p, q) plane: tan θ is the smaller root of t² + 2ζt - 1 = 0 with
    /// ζ = (a_qq - a_pp) / (2 a_pq), which makes the new a_pq zero.</summary>
    private static void Rotate(double[] m, double[] v, int n, int p, int q)
    {
        double apq = m[(long)p * n + q];
        if (apq == 0) return;
        double app = m[(long)p * n + p], aqq = m[(long)q * n + q];
        double zeta = (aqq - app) / (2 * apq);
        double t = Math.Sign(zeta) == 0 ? 1 : Math.Sign(zeta) / (Math.Abs(zeta) + Math.Sqrt(1 + zeta * zeta));
        double c = 1 / Math.Sqrt(1 + t * t), s = t * c;
        for (int k = 0; k < n; k++) // columns p and q: A·J
        {
            double akp = m[(long)k * n + p], akq = m[(long)k * n + q];
            m[(long)k * n + p] = c * akp - s * akq;
            m[(long)k * n + q] = s * akp + c * akq;
        }
        for (int k = 0; k < n; k++) // rows p and q: Jᵀ·(A·J)
        {
            double apk = m[(long)p * n + k], aqk = m[(long)q * n + k];
            m[(long)p * n + k] = c * apk - s * aqk;
            m[(long)q * n + k] = s * apk + c * aqk;
        }
        m[(long)p * n + q] = m[(long)q * n + p] = 0;
        for (int k = 0; k < n; k++) // V·J
        {
            double vkp = v[(long)k * n + p], vkq = v[(long)k * n + q];
            v[(long)k * n + p] = c * vkp - s * vkq;
            v[(long)k * n + q] = s * vkp + c * vkq;
        }
    }
}
