namespace PeftEngine.Cpu;

/// <summary>
/// The last step of a one-sided Jacobi SVD, shared by the fast and the reference kernels: from n mutually
/// orthogonal columns (each contiguous, length m) and the accumulated rotations V, sort the singular values
/// σ_j = ‖a_j‖ in descending order and write u_j = a_j / σ_j. Columns whose σ is zero to round-off (rank
/// deficiency) get unit vectors orthogonalized against the others instead, so U always has orthonormal columns.
/// </summary>
internal static unsafe class SvdFinish
{
    /// <param name="cols">n columns, column j at cols + j·m.</param>
    /// <param name="m">Column length.</param>
    /// <param name="n">Column count (n ≤ m).</param>
    /// <param name="vcols">V's columns (column j at vcols + j·n), or null when vh is null.</param>
    /// <param name="u">Output u (m×n) row-major, or null.</param>
    /// <param name="s">Output singular values (n), descending.</param>
    /// <param name="vh">Output Vᵀ (n×n) row-major, or null.</param>
    public static void FromColumns(double* cols, int m, int n, double* vcols, double* u, double* s, double* vh)
    {
        var sigma = new double[n];
        for (int j = 0; j < n; j++)
        {
            double acc = 0;
            for (int i = 0; i < m; i++) acc += cols[(long)j * m + i] * cols[(long)j * m + i];
            sigma[j] = Math.Sqrt(acc);
        }
        var order = Enumerable.Range(0, n).OrderByDescending(j => sigma[j]).ThenBy(j => j).ToArray();
        for (int c = 0; c < n; c++) s[c] = sigma[order[c]];
        if (vh != null)
            for (int c = 0; c < n; c++)
                for (int i = 0; i < n; i++) vh[(long)c * n + i] = vcols[(long)order[c] * n + i];
        if (u == null) return;

        double cutoff = (n > 0 ? s[0] : 0) * m * 1e-15;
        var basis = new double[(long)n * m]; // the columns of U, each contiguous
        var filled = new bool[n];
        for (int c = 0; c < n; c++)
        {
            if (!(s[c] > cutoff) || s[c] == 0) continue;
            double inv = 1 / s[c];
            for (int i = 0; i < m; i++) basis[(long)c * m + i] = cols[(long)order[c] * m + i] * inv;
            filled[c] = true;
        }
        int nextUnit = 0;
        for (int c = 0; c < n; c++)
        {
            if (filled[c]) continue;
            // the next unit vector that keeps a usable component after removing the columns found so far
            while (true)
            {
                var e = new double[m];
                e[nextUnit++ % m] = 1;
                for (int pass = 0; pass < 2; pass++) // Gram–Schmidt twice for orthogonality to round-off
                    for (int o = 0; o < n; o++)
                    {
                        if (!filled[o]) continue;
                        double d = 0;
                        for (int i = 0; i < m; i++) d += basis[(long)o * m + i] * e[i];
                        for (int i = 0; i < m; i++) e[i] -= d * basis[(long)o * m + i];
                    }
                double norm = Math.Sqrt(e.Sum(x => x * x));
                if (norm < 0.1 && nextUnit < 2 * m) continue;
                for (int i = 0; i < m; i++) basis[(long)c * m + i] = e[i] / norm;
                filled[c] = true;
                break;
            }
        }
        for (int i = 0; i < m; i++)
            for (int c = 0; c < n; c++) u[(long)i * n + c] = basis[(long)c * m + i];
    }
}
