namespace PeftEngine.Cpu;

/// <summary>
/// One-sided Jacobi SVD in its plainest form: sweep over the column pairs (i, j), i &lt; j, in row-cyclic order
/// and rotate each pair to orthogonality (the same rotation on V), until a sweep rotates nothing. Columns are
/// read in place from a row-major copy; a wide matrix is transposed first.
/// </summary>
internal static unsafe class ReferenceSvd
{
    public static void Decompose(double* a, int m, int n, double* u, double* s, double* vh)
    {
        bool wide = m < n;
        int rows = wide ? n : m, cols = wide ? m : n; // work on the tall one: rows ≥ cols
        var w = new double[rows, cols];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                if (wide) w[j, i] = a[(long)i * n + j]; else w[i, j] = a[(long)i * n + j];
        var v = new double[cols, cols];
        for (int i = 0; i < cols; i++) v[i, i] = 1;
        double tol = JacobiSvd.Tolerance(rows);
        for (int sweep = 0; sweep < 60; sweep++)
        {
            bool rotated = false;
            for (int i = 0; i < cols - 1; i++)
                for (int j = i + 1; j < cols; j++)
                {
                    double alpha = 0, beta = 0, gamma = 0;
                    for (int r = 0; r < rows; r++)
                    {
                        alpha += w[r, i] * w[r, i];
                        beta += w[r, j] * w[r, j];
                        gamma += w[r, i] * w[r, j];
                    }
                    if (gamma == 0 || Math.Abs(gamma) <= tol * Math.Sqrt(alpha * beta)) continue;
                    rotated = true;
                    double zeta = (beta - alpha) / (2 * gamma);
                    double t = (zeta >= 0 ? 1 : -1) / (Math.Abs(zeta) + Math.Sqrt(1 + zeta * zeta));
                    double c = 1 / Math.Sqrt(1 + t * t), sn = c * t;
                    for (int r = 0; r < rows; r++)
                        (w[r, i], w[r, j]) = (c * w[r, i] - sn * w[r, j], sn * w[r, i] + c * w[r, j]);
                    for (int r = 0; r < cols; r++)
                        (v[r, i], v[r, j]) = (c * v[r, i] - sn * v[r, j], sn * v[r, i] + c * v[r, j]);
                }
            if (!rotated) break;
        }

        // columns as contiguous rows for the shared finishing step
        var colsW = new double[(long)cols * rows];
        var colsV = new double[(long)cols * cols];
        for (int j = 0; j < cols; j++)
        {
            for (int r = 0; r < rows; r++) colsW[(long)j * rows + r] = w[r, j];
            for (int r = 0; r < cols; r++) colsV[(long)j * cols + r] = v[r, j];
        }
        var uw = u == null ? null : new double[(long)rows * cols];
        var vw = vh == null ? null : new double[(long)cols * cols];
        fixed (double* pc = colsW, pcv = colsV, pu = uw, pv = vw)
            SvdFinish.FromColumns(pc, rows, cols, pcv, pu, s, pv);
        if (!wide)
        {
            if (uw is not null) new ReadOnlySpan<double>(uw).CopyTo(new Span<double>(u, uw.Length));
            if (vw is not null) new ReadOnlySpan<double>(vw).CopyTo(new Span<double>(vh, vw.Length));
            return;
        }
        // A = (Aᵀ)ᵀ = V' S U'ᵀ: u (m×m) = V' = vwᵀ, vh (m×n) = U'ᵀ = uwᵀ
        if (vw is not null)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < m; j++) u[(long)i * m + j] = vw[(long)j * m + i];
        if (uw is not null)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) vh[(long)i * n + j] = uw[(long)j * m + i];
    }
}
