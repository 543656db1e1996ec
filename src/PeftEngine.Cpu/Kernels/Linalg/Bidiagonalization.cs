using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

/// <summary>
/// Householder reduction of a row-major m×n matrix (m ≥ n) to upper bidiagonal form, <c>A = Q·B·Pᵀ</c>:
/// left reflectors H_c = I - τq_c·v_c·v_cᵀ zero column c below the diagonal, right reflectors
/// G_c = I - τp_c·u_c·u_cᵀ zero row c right of the superdiagonal. B has diagonal d (n) and superdiagonal e (n-1).
/// <para>Blocked: a panel of <see cref="Panel"/> columns is reduced while the rest of the matrix is left as it
/// was; two tall matrices X (m×nb) and Y (n×nb) record what the panel's reflectors would have done, so that
/// after the panel the trailing matrix is updated at once by <c>A₂₂ -= V·Yᵀ + X·U</c>, two GEMMs (level 3).
/// Inside the panel each column still needs two matrix-vector products with the trailing matrix (level 2,
/// about half the flops, as in LAPACK).</para>
/// On return v_c is stored below the diagonal of column c (its leading 1 implied) and u_c right of the
/// superdiagonal of row c (leading 1 at column c+1 implied).
/// </summary>
/// <remarks>LAPACK: dgebrd + dlabrd (the m ≥ n branch). PyTorch has no public equivalent.</remarks>
internal static unsafe class Bidiagonalization
{
    private const int Panel = 32;

    /// <param name="a">m×n row-major, overwritten by the reflector vectors.</param>
    /// <param name="m">Rows (m ≥ n).</param>
    /// <param name="n">Columns.</param>
    /// <param name="d">Diagonal of B (n).</param>
    /// <param name="e">Superdiagonal of B (n-1; length n accepted).</param>
    /// <param name="tauq">Left reflector scales (n).</param>
    /// <param name="taup">Right reflector scales (n; the last is 0).</param>
    public static void Reduce(double* a, int m, int n, double* d, double* e, double* tauq, double* taup)
    {
        if (m < n) throw new ArgumentException($"Bidiagonalization: expected m ≥ n, got {m}x{n}");
        var x = new double[(long)m * Panel];
        var y = new double[(long)n * Panel];
        var v = new double[m];
        var t = new double[2 * Panel + 2];
        var yk = new double[n];
        fixed (double* px = x, py = y, pv = v, pt = t, pyk = yk)
        {
            for (int p = 0; p < n; p += Panel)
            {
                int nb = Math.Min(Panel, n - p);
                ReducePanel(a, m, n, p, nb, d, e, tauq, taup, px, py, pv, pt, pyk);
                int r0 = p + nb;
                if (r0 < n) UpdateTrailing(a, m, n, p, nb, px, py);
                for (int c = p; c < p + nb; c++)
                {
                    a[(long)c * n + c] = d[c];
                    if (c + 1 < n) a[(long)c * n + c + 1] = e[c];
                }
            }
        }
    }

    /// <summary>A(p+nb:m, p+nb:n) -= A(p+nb:m, p:p+nb)·Y(p+nb:n, :)ᵀ + X(p+nb:m, :)·A(p:p+nb, p+nb:n).</summary>
    private static void UpdateTrailing(double* a, int m, int n, int p, int nb, double* x, double* y)
    {
        int r0 = p + nb;
        double* c = a + (long)r0 * n + r0;
        Gemm<double>.Run(new GemmArgs<double>
        {
            A = a + (long)r0 * n + p, RowStrideA = n, ColStrideA = 1,
            B = y + (long)r0 * Panel, RowStrideB = 1, ColStrideB = Panel,
            C = c, Ldc = n, Batch = 1, M = m - r0, N = n - r0, K = nb, Alpha = -1, Beta = 1,
        });
        Gemm<double>.Run(new GemmArgs<double>
        {
            A = x + (long)r0 * Panel, RowStrideA = Panel, ColStrideA = 1,
            B = a + (long)p * n + r0, RowStrideB = n, ColStrideB = 1,
            C = c, Ldc = n, Batch = 1, M = m - r0, N = n - r0, K = nb, Alpha = -1, Beta = 1,
        });
    }

    /// <summary>dlabrd: reduces columns p..p+nb and rows p..p+nb, filling X and Y (row r of X at x + r·Panel,
    /// row j of Y at y + j·Panel). The 1s of the reflectors stay in place of d and e until the caller restores them.</summary>
    private static void ReducePanel(double* a, int m, int n, int p, int nb, double* d, double* e, double* tauq, double* taup,
        double* x, double* y, double* v, double* t, double* pyk)
    {
        for (int k = 0; k < nb; k++)
        {
            int c = p + k;
            // A(c:m, c) -= A(c:m, p:c)·Y(c, 0:k)ᵀ + X(c:m, 0:k)·A(p:c, c)
            if (k > 0)
            {
                for (int i = 0; i < k; i++) t[i] = a[(long)(p + i) * n + c];
                double* yc = y + (long)c * Panel;
                for (int r = c; r < m; r++)
                {
                    double* ar = a + (long)r * n;
                    double* xr = x + (long)r * Panel;
                    double acc = 0;
                    for (int i = 0; i < k; i++) acc += ar[p + i] * yc[i] + xr[i] * t[i];
                    ar[c] -= acc;
                }
            }
            // left reflector for A(c:m, c)
            for (int r = c; r < m; r++) v[r - c] = a[(long)r * n + c];
            int lenV = m - c;
            tauq[c] = MakeReflector(v, lenV, out d[c]);
            v[0] = 1;
            for (int r = c; r < m; r++) a[(long)r * n + c] = v[r - c];
            if (c == n - 1)
            {
                taup[c] = 0;
                continue;
            }

            // Y(c+1:n, k) = τq·(A(c:m, c+1:n)ᵀ·v - Y(c+1:n, 0:k)·(A(c:m, p:c)ᵀ·v) - A(p:c, c+1:n)ᵀ·(X(c:m, 0:k)ᵀ·v))
            int w = n - c - 1;
            {
                TransposedProduct(a + (long)c * n + c + 1, n, lenV, w, v, pyk);
                for (int i = 0; i < 2 * Panel; i++) t[i] = 0;
                for (int r = c; r < m; r++)       // t = A(c:m, p:c)ᵀ·v, t[Panel..] = X(c:m, 0:k)ᵀ·v in one pass
                {
                    double* ar = a + (long)r * n + p;
                    double* xr = x + (long)r * Panel;
                    double vr = v[r - c];
                    for (int i = 0; i < k; i++)
                    {
                        t[i] += ar[i] * vr;
                        t[Panel + i] += xr[i] * vr;
                    }
                }
                for (int j = 0; j < w; j++)
                {
                    double* yj = y + (long)(c + 1 + j) * Panel;
                    double acc = 0;
                    for (int i = 0; i < k; i++) acc += yj[i] * t[i] + a[(long)(p + i) * n + c + 1 + j] * t[Panel + i];
                    yj[k] = tauq[c] * (pyk[j] - acc);
                }
            }

            // A(c, c+1:n) -= Y(c+1:n, 0:k+1)·A(c, p:c+1)ᵀ + A(p:c, c+1:n)ᵀ·X(c, 0:k)ᵀ
            double* row = a + (long)c * n;
            double* xc = x + (long)c * Panel;
            for (int j = c + 1; j < n; j++)
            {
                double* yj = y + (long)j * Panel;
                double acc = 0;
                for (int i = 0; i <= k; i++) acc += yj[i] * row[p + i];
                for (int i = 0; i < k; i++) acc += a[(long)(p + i) * n + j] * xc[i];
                row[j] -= acc;
            }
            // right reflector for A(c, c+1:n)
            taup[c] = MakeReflector(row + c + 1, w, out e[c]);
            row[c + 1] = 1;

            // X(c+1:m, k) = τp·(A(c+1:m, c+1:n)·u - A(c+1:m, p:c+1)·(Y(c+1:n, 0:k+1)ᵀ·u) - X(c+1:m, 0:k)·(A(p:c, c+1:n)·u))
            double* u = row + c + 1;
            for (int i = 0; i <= k; i++) t[i] = 0;
            for (int j = 0; j < w; j++)           // t = Y(c+1:n, 0:k+1)ᵀ·u
            {
                double* yj = y + (long)(c + 1 + j) * Panel;
                for (int i = 0; i <= k; i++) t[i] += yj[i] * u[j];
            }
            for (int i = 0; i < k; i++)
                t[Panel + 1 + i] = TensorPrimitives.Dot(new ReadOnlySpan<double>(a + (long)(p + i) * n + c + 1, w), new ReadOnlySpan<double>(u, w));
            int rows = m - c - 1;
            double tp = taup[c];
            CpuParallel.For(rows, 2L * w, (r0, r1) =>
            {
                var uSpan = new ReadOnlySpan<double>(u, w);
                for (long rr = r0; rr < r1; rr++)
                {
                    long r = c + 1 + rr;
                    double* ar = a + r * n;
                    double* xr = x + r * Panel;
                    double acc = TensorPrimitives.Dot(new ReadOnlySpan<double>(ar + c + 1, w), uSpan);
                    for (int i = 0; i <= k; i++) acc -= ar[p + i] * t[i];
                    for (int i = 0; i < k; i++) acc -= xr[i] * t[Panel + 1 + i];
                    xr[k] = tp * acc;
                }
            });
        }
    }

    /// <summary>out (w) = Mᵀ·v for the rows × w block M at m (row stride ld): rows scaled by v[r] and summed,
    /// the columns cut into chunks that run in parallel (each chunk sums its rows in order: deterministic).</summary>
    private static void TransposedProduct(double* mat, int ld, int rows, int w, double* v, double* result)
    {
        const int Chunk = 512;
        int chunks = (w + Chunk - 1) / Chunk;
        CpuParallel.For(chunks, 2L * rows * Chunk, (c0, c1) =>
        {
            for (long ch = c0; ch < c1; ch++)
            {
                int j0 = (int)ch * Chunk, width = Math.Min(Chunk, w - j0);
                var acc = new Span<double>(result + j0, width);
                acc.Clear();
                for (int r = 0; r < rows; r++)
                    if (v[r] != 0)
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<double>(mat + (long)r * ld + j0, width), v[r], acc, acc);
            }
        });
    }

    /// <summary>dlarfg: for x = (α, x₁…), finds τ and β with (I - τ·w·wᵀ)·x = β·e₀, w = (1, x₁/(α-β), …);
    /// β = -sign(α)·‖x‖. Overwrites x[1..] with w's tail and returns τ (0 when x₁… is already zero).</summary>
    internal static double MakeReflector(double* x, int len, out double beta)
    {
        double alpha = x[0];
        double tail = len > 1 ? TensorPrimitives.Norm(new ReadOnlySpan<double>(x + 1, len - 1)) : 0;
        if (tail == 0)
        {
            beta = alpha;
            return 0;
        }
        double norm = Math.Sqrt(alpha * alpha + tail * tail);
        if (double.IsInfinity(norm)) norm = Math.Abs(alpha) > tail ? Math.Abs(alpha) * Math.Sqrt(1 + (tail / alpha) * (tail / alpha)) : tail * Math.Sqrt(1 + (alpha / tail) * (alpha / tail));
        beta = alpha >= 0 ? -norm : norm;
        double scale = 1 / (alpha - beta);
        TensorPrimitives.Multiply(new ReadOnlySpan<double>(x + 1, len - 1), scale, new Span<double>(x + 1, len - 1));
        return (beta - alpha) / beta;
    }
}
