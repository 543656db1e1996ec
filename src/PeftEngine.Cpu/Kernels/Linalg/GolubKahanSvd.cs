namespace PeftEngine.Cpu;

/// <summary>
/// Thin SVD of one row-major m×n matrix of doubles by the Golub–Kahan method, for large matrices:
/// <list type="number">
/// <item>blocked Householder bidiagonalization A = Q·B·Pᵀ (<see cref="Bidiagonalization"/>, trailing updates by GEMM);</item>
/// <item>Q (m×n) and Pᵀ (n×n) formed from the reflectors in compact WY blocks (<see cref="BlockReflector"/>);</item>
/// <item>B = U_B·Σ·V_Bᵀ by implicitly shifted bidiagonal QR (<see cref="BidiagonalQr"/>), its rotations applied in
/// cache-sized batches (<see cref="RotationBatch"/>) to Qᵀ (giving Uᵀ = U_Bᵀ·Qᵀ) and to Pᵀ (giving Vᵀ = V_Bᵀ·Pᵀ);</item>
/// <item>singular values made non-negative and sorted in descending order.</item>
/// </list>
/// A wide matrix is transposed first. Work O(mn²) with most flops in GEMMs; the bidiagonalization's matrix-vector
/// products and the rotations are bound by memory bandwidth.
/// </summary>
/// <remarks>LAPACK: dgesvd's path (dgebrd, dorgbr, dbdsqr). PyTorch: torch.linalg.svd(full_matrices=False).
/// Golub–Kahan has normwise (not component-wise relative) accuracy for tiny singular values; the fast backend uses
/// one-sided Jacobi (<see cref="JacobiSvd"/>) below <see cref="MinSize"/>.</remarks>
internal static unsafe class GolubKahanSvd
{
    /// <summary>min(m, n) from which <see cref="CpuBackend.Svd"/> uses this method rather than Jacobi.</summary>
    public const int MinSize = 192;

    /// <summary>u (m×k), s (k), vh (k×n), k = min(m, n); u and vh are skipped when null.</summary>
    public static void Decompose(double* a, int m, int n, double* u, double* s, double* vh)
    {
        if (m < n)
        {
            // A = (Aᵀ)ᵀ = (U' S V'ᵀ)ᵀ = V' S U'ᵀ: u = V'ᵀ transposed, vh = U' transposed
            var at = new double[(long)n * m];
            fixed (double* pat = at)
            {
                Transpose(a, m, n, pat);
                var ut = u == null ? null : new double[(long)n * m];
                var vt = vh == null ? null : new double[(long)m * m];
                fixed (double* put = ut, pvt = vt)
                {
                    Tall(pat, n, m, put, s, pvt);
                    if (vh != null) Transpose(put, n, m, vh);
                    if (u != null) Transpose(pvt, m, m, u);
                }
            }
            return;
        }
        var copy = new double[(long)m * n];
        new ReadOnlySpan<double>(a, copy.Length).CopyTo(copy);
        fixed (double* pc = copy) Tall(pc, m, n, u, s, vh);
    }

    /// <summary>m ≥ n; a is overwritten.</summary>
    private static void Tall(double* a, int m, int n, double* u, double* s, double* vh)
    {
        if (n == 0) return;
        bool wantU = u != null, wantV = vh != null;
        var d = new double[n];
        var e = new double[n];
        var tauq = new double[n];
        var taup = new double[n];
        fixed (double* pd = d, pe = e, ptq = tauq, ptp = taup)
            Bidiagonalization.Reduce(a, m, n, pd, pe, ptq, ptp);

        var ut = wantU ? new double[(long)n * m] : null;   // Uᵀ: row i is column i of U
        var vt = wantV ? new double[(long)n * n] : null;
        fixed (double* put = ut, pvt = vt)
        {
            if (wantU)
            {
                var q = new double[(long)m * n];
                fixed (double* pq = q, ptq = tauq)
                {
                    BlockReflector.FormQ(a, n, 1, m, n, ptq, pq);
                    Transpose(pq, m, n, put);
                }
            }
            if (wantV) FormPt(a, n, taup, pvt);
            var left = wantU ? new RotationBatch(put, n, m) : null;
            var right = wantV ? new RotationBatch(pvt, n, n) : null;
            var ee = new double[Math.Max(0, n - 1)];
            Array.Copy(e, ee, ee.Length);
            BidiagonalQr.Diagonalize(d, ee, left, right);
            left?.Flush();
            right?.Flush();

            var order = Enumerable.Range(0, n).OrderByDescending(i => Math.Abs(d[i])).ThenBy(i => i).ToArray();
            for (int c = 0; c < n; c++) s[c] = Math.Abs(d[order[c]]);
            if (wantV)
                for (int c = 0; c < n; c++)
                {
                    double sign = d[order[c]] < 0 ? -1 : 1;
                    double* src = pvt + (long)order[c] * n, dst = vh + (long)c * n;
                    for (int j = 0; j < n; j++) dst[j] = sign * src[j];
                }
            if (wantU)
            {
                double* src = put;
                CpuParallel.For(m, n, (r0, r1) =>
                {
                    for (long i = r0; i < r1; i++)
                        for (int c = 0; c < n; c++) u[i * n + c] = src[(long)order[c] * m + i];
                });
            }
        }
    }

    /// <summary>Pᵀ (n×n) from the right reflectors stored in the rows of a (u_c right of the superdiagonal of row c):
    /// P = diag(1, P'), P' = G'_0·…·G'_{n-2} formed on the trailing (n-1)×(n-1) coordinates, where column c of
    /// the reflector matrix is row c of a shifted one place right.</summary>
    private static void FormPt(double* a, int n, double[] taup, double* vt)
    {
        new Span<double>(vt, n * n).Clear();
        vt[0] = 1;
        if (n == 1) return;
        int k = n - 1;
        var p = new double[(long)k * k];
        fixed (double* pp = p, pt = taup)
        {
            // element (r, c) of the reflector matrix = a[c, r + 1]: row stride 1, column stride n
            BlockReflector.FormQ(a + 1, 1, n, k, k, pt, pp);
            for (int i = 0; i < k; i++)                         // Pᵀ[1 + i, 1 + j] = P'[j, i]
                for (int j = 0; j < k; j++) vt[(long)(1 + i) * n + 1 + j] = pp[(long)j * k + i];
        }
    }

    /// <summary>dst (cols × rows) = src (rows × cols)ᵀ, in 32×32 tiles.</summary>
    internal static void Transpose(double* src, int rows, int cols, double* dst)
    {
        const int Tile = 32;
        int tiles = (rows + Tile - 1) / Tile;
        CpuParallel.For(tiles, (long)Tile * cols, (t0, t1) =>
        {
            for (long t = t0; t < t1; t++)
            {
                int i0 = (int)t * Tile, i1 = Math.Min(rows, i0 + Tile);
                for (int j0 = 0; j0 < cols; j0 += Tile)
                {
                    int j1 = Math.Min(cols, j0 + Tile);
                    for (int i = i0; i < i1; i++)
                        for (int j = j0; j < j1; j++) dst[(long)j * rows + i] = src[(long)i * cols + j];
                }
            }
        });
    }
}
