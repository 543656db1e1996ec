using System.Runtime.Intrinsics;
using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

/// <summary>
/// Thin SVD of one row-major m×n matrix of doubles by one-sided (Hestenes) Jacobi: columns a_i, a_j are
/// rotated until every pair is orthogonal; then σ_i = ‖a_i‖, u_i = a_i / σ_i and V is the product of the
/// rotations. Columns are stored as contiguous rows (SIMD dot products and rotations), visited in cache-sized
/// blocks with disjoint block pairs in parallel. The matrix is first reduced by Householder QR (A = Q·R) and
/// Jacobi runs on Rᵀ, which needs fewer sweeps than A itself; a wide matrix is transposed first.
/// </summary>
/// <remarks>Fast path of IBackend.Svd; LAPACK: dgesvj; PyTorch: torch.linalg.svd(full_matrices=False).
/// One-sided Jacobi computes small singular values to high relative accuracy.</remarks>
internal static unsafe class JacobiSvd
{
    private const int MaxSweeps = 40;

    /// <summary>u (m×k), s (k), vh (k×n), k = min(m, n); u and vh are skipped when null.</summary>
    public static void Decompose(double* a, int m, int n, double* u, double* s, double* vh)
    {
        if (m < n)
        {
            // A = (Aᵀ)ᵀ = (U' S V'ᵀ)ᵀ = V' S U'ᵀ: u = V', vh = U'ᵀ
            var at = new double[(long)n * m];
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) at[(long)j * m + i] = a[(long)i * n + j];
            var ut = u == null ? null : new double[(long)n * m];
            var vt = vh == null ? null : new double[(long)m * m];
            fixed (double* pat = at, put = ut, pvt = vt)
                Tall(pat, n, m, put, s, pvt);
            if (ut is not null) // vh (m×n) = U'ᵀ where U' is n×m
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) vh[(long)i * n + j] = ut[(long)j * m + i];
            if (vt is not null) // u (m×m) = V' = (V'ᵀ)ᵀ
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < m; j++) u[(long)i * m + j] = vt[(long)j * m + i];
            return;
        }
        Tall(a, m, n, u, s, vh);
    }

    /// <summary>
    /// m ≥ n. Preconditioned by QR: A = Q·R, and Jacobi runs on W = Rᵀ (n×n), whose columns are R's rows
    /// (contiguous already). With W = U'·Σ·V'ᵀ we get R = V'·Σ·U'ᵀ, so A = (Q·V')·Σ·U'ᵀ: U = Q·V', V = U'.
    /// The triangular, column-graded W converges in fewer sweeps than A itself.
    /// </summary>
    private static void Tall(double* a, int m, int n, double* u, double* s, double* vh)
    {
        if (n == 0) return;
        bool wantUV = u != null || vh != null;
        var q = new double[(long)m * n];
        var r = new double[(long)n * n];
        var uw = wantUV ? new double[(long)n * n] : null;
        var vw = wantUV ? new double[(long)n * n] : null;
        fixed (double* pq = q, pr = r, puw = uw, pvw = vw)
        {
            HouseholderQr.Decompose(a, m, n, pq, pr, complete: false);
            var v = wantUV ? new double[(long)n * n] : null; // v[j·n + i] = V'[i, j]
            if (v is not null) for (int j = 0; j < n; j++) v[(long)j * n + j] = 1;
            fixed (double* pv = v)
            {
                Orthogonalize(pr, n, n, pv);
                SvdFinish.FromColumns(pr, n, n, pv, puw, s, pvw); // U' (n×n), Σ, V'ᵀ (n×n)
            }
            if (!wantUV) return;
            if (vh != null) // V = U', so Vh = U'ᵀ
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < n; j++) vh[(long)i * n + j] = puw[(long)j * n + i];
            if (u != null)
            {
                var vp = new double[(long)n * n]; // V' = (V'ᵀ)ᵀ
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < n; j++) vp[(long)i * n + j] = pvw[(long)j * n + i];
                fixed (double* pvp = vp)
                    MultiplyRows(pq, m, n, pvp, n, u);        // U = Q·V'
            }
        }
    }

    /// <summary>
    /// Rotates the n columns (column j at cols + j·len) until every pair is orthogonal, accumulating the
    /// rotations into V's columns (vcols, may be null). Blocked for the cache: columns are grouped in blocks
    /// of bs; each sweep first orthogonalizes the pairs inside every block, then visits the block pairs in
    /// round-robin order (disjoint block pairs in parallel), rotating each column of one block against each
    /// column of the other while both blocks sit in cache.
    /// </summary>
    private static void Orthogonalize(double* cols, int len, int n, double* vcols)
    {
        int bs = Math.Clamp(32768 / Math.Max(1, len + (vcols == null ? 0 : n)), 2, 32);
        int nb = (n + bs - 1) / bs;
        int slots = nb + (nb & 1);                 // an odd block count gets one idle slot per step
        var rotations = new int[1];
        long pairWork = 6L * len;
        for (int sweep = 0; sweep < MaxSweeps; sweep++)
        {
            rotations[0] = 0;
            CpuParallel.For(nb, pairWork * bs * bs / 2, (b0, b1) =>
            {
                int done = 0;
                for (long b = b0; b < b1; b++)
                {
                    int lo = (int)b * bs, hi = Math.Min(n, lo + bs);
                    for (int i = lo; i < hi; i++)
                        for (int j = i + 1; j < hi; j++)
                            if (RotateColumns(cols, len, vcols, n, i, j)) done++;
                }
                if (done > 0) Interlocked.Add(ref rotations[0], done);
            });
            var ring = Enumerable.Range(0, slots).ToArray();
            for (int step = 0; step < slots - 1; step++)
            {
                var pairs = ring;
                CpuParallel.For(slots / 2, pairWork * bs * bs, (p0, p1) =>
                {
                    int done = 0;
                    for (long p = p0; p < p1; p++)
                    {
                        int bi = pairs[p], bj = pairs[slots - 1 - p];
                        if (bi >= nb || bj >= nb) continue;
                        int iLo = bi * bs, iHi = Math.Min(n, iLo + bs), jLo = bj * bs, jHi = Math.Min(n, jLo + bs);
                        for (int i = iLo; i < iHi; i++)
                            for (int j = jLo; j < jHi; j++)
                                if (RotateColumns(cols, len, vcols, n, Math.Min(i, j), Math.Max(i, j))) done++;
                    }
                    if (done > 0) Interlocked.Add(ref rotations[0], done);
                });
                ring = NextRound(ring);
            }
            if (rotations[0] == 0) break;
        }
    }

    private static bool RotateColumns(double* cols, int len, double* vcols, int n, int i, int j) =>
        RotatePair(cols + (long)i * len, cols + (long)j * len, len,
            vcols == null ? null : vcols + (long)i * n, vcols == null ? null : vcols + (long)j * n, n);

    /// <summary>Round-robin schedule: slot 0 stays, the others move one place, so every pair meets once per sweep.</summary>
    private static int[] NextRound(int[] ring)
    {
        var next = new int[ring.Length];
        next[0] = ring[0];
        for (int p = 1; p < ring.Length; p++) next[p == ring.Length - 1 ? 1 : p + 1] = ring[p];
        return next;
    }

    /// <summary>Makes columns x and y orthogonal: with α = ‖x‖², β = ‖y‖², γ = x·y, ζ = (β - α) / 2γ and
    /// t = sign(ζ) / (|ζ| + sqrt(1 + ζ²)), c = 1/sqrt(1 + t²), s = c·t: x' = c·x - s·y, y' = s·x + c·y
    /// (the same rotation on V's columns). Returns false when the pair was already orthogonal.</summary>
    private static bool RotatePair(double* x, double* y, int m, double* vx, double* vy, int n)
    {
        var (alpha, beta, gamma) = Dots(x, y, m);
        if (Math.Abs(gamma) <= Tolerance(m) * Math.Sqrt(alpha * beta) || gamma == 0) return false;
        double zeta = (beta - alpha) / (2 * gamma);
        double t = (zeta >= 0 ? 1 : -1) / (Math.Abs(zeta) + Math.Sqrt(1 + zeta * zeta));
        double c = 1 / Math.Sqrt(1 + t * t), s = c * t;
        Rotate(x, y, m, c, s);
        if (vx != null) Rotate(vx, vy, n, c, s);
        return true;
    }

    /// <summary>Pairs with |x·y| ≤ tol·‖x‖·‖y‖ count as orthogonal: a few units of round-off in a length-m dot
    /// product (a tighter bound would keep rotating round-off noise).</summary>
    internal static double Tolerance(int m) => 4e-16 * Math.Sqrt(Math.Max(m, 1));

    private static (double Alpha, double Beta, double Gamma) Dots(double* x, double* y, int m)
    {
        // α = x·x, β = y·y, γ = x·y in one pass, 8 doubles per step
        var va = Vector512<double>.Zero;
        var vb = Vector512<double>.Zero;
        var vg = Vector512<double>.Zero;
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= m - 8; i += 8)
            {
                var xv = Vector512.Load(x + i);
                var yv = Vector512.Load(y + i);
                va = Vector512.FusedMultiplyAdd(xv, xv, va);
                vb = Vector512.FusedMultiplyAdd(yv, yv, vb);
                vg = Vector512.FusedMultiplyAdd(xv, yv, vg);
            }
        double a = Vector512.Sum(va), b = Vector512.Sum(vb), g = Vector512.Sum(vg);
        for (; i < m; i++)
        {
            a += x[i] * x[i];
            b += y[i] * y[i];
            g += x[i] * y[i];
        }
        return (a, b, g);
    }

    /// <summary>x := c·x - s·y and y := s·x + c·y elementwise (a plane rotation of two rows).</summary>
    internal static void Rotate(double* x, double* y, int len, double c, double s)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vc = Vector512.Create(c);
            var vs = Vector512.Create(s);
            for (; i <= len - 8; i += 8)
            {
                var xv = Vector512.Load(x + i);
                var yv = Vector512.Load(y + i);
                (vc * xv - vs * yv).Store(x + i);
                (vs * xv + vc * yv).Store(y + i);
            }
        }
        for (; i < len; i++)
        {
            double xi = x[i], yi = y[i];
            x[i] = c * xi - s * yi;
            y[i] = s * xi + c * yi;
        }
    }

    /// <summary>c (m×p) = a (m×k) · b (k×p), row-major, rows in parallel with SIMD multiply-adds.</summary>
    internal static void MultiplyRows(double* a, int m, int k, double* b, int p, double* c)
    {
        CpuParallel.For(m, (long)k * p, (r0, r1) =>
        {
            for (long i = r0; i < r1; i++)
            {
                var row = new Span<double>(c + i * p, p);
                row.Clear();
                for (int l = 0; l < k; l++)
                {
                    double f = a[i * k + l];
                    if (f != 0) TensorPrimitives.MultiplyAdd(new ReadOnlySpan<double>(b + (long)l * p, p), f, row, row);
                }
            }
        });
    }
}
