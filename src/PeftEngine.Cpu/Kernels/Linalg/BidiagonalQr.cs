namespace PeftEngine.Cpu;

/// <summary>
/// Singular values of an upper bidiagonal matrix B (diagonal d, superdiagonal e) by implicitly shifted QR
/// (Golub–Kahan chasing), with Demmel–Kahan's zero-shift sweep and relative convergence tests so small singular
/// values keep their relative accuracy. Each sweep chases a bulge down (or up) the active block with a right
/// and a left rotation per row; the rotations are handed to the singular vector accumulators: right rotations
/// to the rows of Vᵀ, left rotations to the rows of Uᵀ. On return d holds the singular values (signed; the
/// caller takes absolute values and flips the matching row of Vᵀ) and e is zero.
/// </summary>
/// <remarks>LAPACK: dbdsqr (the same tests, shifts and sweep directions). PyTorch: inside torch.linalg.svd.</remarks>
internal static class BidiagonalQr
{
    /// <summary>Diagonalizes B; <paramref name="left"/> receives the rotations of Uᵀ's rows,
    /// <paramref name="right"/> those of Vᵀ's rows (either may be null).</summary>
    /// <exception cref="InvalidOperationException">When the iteration does not converge (not seen in practice).</exception>
    public static void Diagonalize(double[] d, double[] e, RotationBatch? left, RotationBatch? right)
    {
        int n = d.Length;
        if (n <= 1) return;
        double eps = Math.Pow(2, -53), unfl = double.Epsilon * Math.Pow(2, 52);
        double tol = Math.Max(10, Math.Min(100, Math.Pow(eps, -0.125))) * eps;
        const int MaxIterationFactor = 6;
        // threshold for negligible entries: tol times an estimate of the smallest singular value
        double sminoa = Math.Abs(d[0]);
        if (sminoa != 0)
        {
            double mu = sminoa;
            for (int i = 1; i < n; i++)
            {
                mu = Math.Abs(d[i]) * (mu / (mu + Math.Abs(e[i - 1])));
                sminoa = Math.Min(sminoa, mu);
                if (sminoa == 0) break;
            }
        }
        sminoa /= Math.Sqrt(n);
        double thresh = Math.Max(tol * sminoa, MaxIterationFactor * (double)n * n * unfl);
        long maxIterations = (long)MaxIterationFactor * n * n, iterations = 0;
        int oldLow = -1, oldHigh = -1, direction = 1;
        int high = n - 1;                                   // the active block is low..high (inclusive)
        while (high > 0)
        {
            if (iterations > maxIterations)
                throw new InvalidOperationException($"Svd: bidiagonal QR did not converge in {maxIterations} steps (n = {n})");
            // find the bottom of the lowest unreduced block: low..high with no negligible e inside
            double smax = Math.Abs(d[high]);
            int low = -1;
            for (int i = high - 1; i >= 0; i--)
            {
                double abss = Math.Abs(d[i]), abse = Math.Abs(e[i]);
                if (abse <= thresh) { e[i] = 0; low = i; break; }
                smax = Math.Max(smax, Math.Max(abss, abse));
            }
            if (low == high - 1) { high--; continue; }       // d[high] split off: converged
            low++;                                          // low = first row of the block
            if (low == high - 1)
            {
                Solve2x2(d, e, low, left, right);
                high -= 2;
                continue;
            }
            if (low > oldHigh || high < oldLow)
                direction = Math.Abs(d[low]) >= Math.Abs(d[high]) ? 1 : 2;
            // convergence tests along the chase direction (relative: |e| small against a running σ_min estimate)
            double sminl;
            if (direction == 1)
            {
                if (Math.Abs(e[high - 1]) <= tol * Math.Abs(d[high])) { e[high - 1] = 0; continue; }
                double mu = Math.Abs(d[low]);
                sminl = mu;
                bool split = false;
                for (int i = low; i < high; i++)
                {
                    if (Math.Abs(e[i]) <= tol * mu) { e[i] = 0; split = true; break; }
                    mu = Math.Abs(d[i + 1]) * (mu / (mu + Math.Abs(e[i])));
                    sminl = Math.Min(sminl, mu);
                }
                if (split) continue;
            }
            else
            {
                if (Math.Abs(e[low]) <= tol * Math.Abs(d[low])) { e[low] = 0; continue; }
                double mu = Math.Abs(d[high]);
                sminl = mu;
                bool split = false;
                for (int i = high - 1; i >= low; i--)
                {
                    if (Math.Abs(e[i]) <= tol * mu) { e[i] = 0; split = true; break; }
                    mu = Math.Abs(d[i]) * (mu / (mu + Math.Abs(e[i])));
                    sminl = Math.Min(sminl, mu);
                }
                if (split) continue;
            }
            oldLow = low;
            oldHigh = high;
            // shift: the smaller singular value of the trailing (leading, going up) 2x2, or 0 when it would
            // cost relative accuracy
            double shift = 0;
            if (!(n * tol * (sminl / smax) <= Math.Max(eps, 0.01 * tol)))
            {
                double sll;
                if (direction == 1) { sll = Math.Abs(d[low]); shift = SingularValues2x2(d[high - 1], e[high - 1], d[high]).Min; }
                else { sll = Math.Abs(d[high]); shift = SingularValues2x2(d[low], e[low], d[low + 1]).Min; }
                if (sll > 0 && (shift / sll) * (shift / sll) < eps) shift = 0;
            }
            iterations += high - low;
            if (shift == 0) ZeroShiftSweep(d, e, low, high, direction, left, right);
            else ShiftedSweep(d, e, low, high, direction, shift, left, right);
            if (direction == 1) { if (Math.Abs(e[high - 1]) <= thresh) e[high - 1] = 0; }
            else if (Math.Abs(e[low]) <= thresh) e[low] = 0;
        }
    }

    /// <summary>Demmel–Kahan QR sweep with zero shift: keeps high relative accuracy and deflates zero diagonals.</summary>
    private static void ZeroShiftSweep(double[] d, double[] e, int low, int high, int direction, RotationBatch? left, RotationBatch? right)
    {
        double cs = 1, oldcs = 1, oldsn = 0, r;
        if (direction == 1)
        {
            for (int i = low; i < high; i++)
            {
                (cs, double sn, r) = Rotation(d[i] * cs, e[i]);
                if (i > low) e[i - 1] = oldsn * r;
                (oldcs, oldsn, d[i]) = Rotation(oldcs * r, d[i + 1] * sn);
                right?.Add(i, cs, sn);
                left?.Add(i, oldcs, oldsn);
            }
            double h = d[high] * cs;
            d[high] = h * oldcs;
            e[high - 1] = h * oldsn;
        }
        else
        {
            for (int i = high; i > low; i--)
            {
                (cs, double sn, r) = Rotation(d[i] * cs, e[i - 1]);
                if (i < high) e[i] = oldsn * r;
                (oldcs, oldsn, d[i]) = Rotation(oldcs * r, d[i - 1] * sn);
                left?.Add(i - 1, cs, -sn);
                right?.Add(i - 1, oldcs, -oldsn);
            }
            double h = d[low] * cs;
            d[low] = h * oldcs;
            e[low] = h * oldsn;
        }
    }

    /// <summary>One implicitly shifted QR sweep (shift σ), chasing the bulge down (direction 1) or up (2).</summary>
    private static void ShiftedSweep(double[] d, double[] e, int low, int high, int direction, double shift,
        RotationBatch? left, RotationBatch? right)
    {
        if (direction == 1)
        {
            double f = (Math.Abs(d[low]) - shift) * (Math.CopySign(1, d[low]) + shift / d[low]), g = e[low];
            for (int i = low; i < high; i++)
            {
                var (cosr, sinr, r) = Rotation(f, g);
                if (i > low) e[i - 1] = r;
                f = cosr * d[i] + sinr * e[i];
                e[i] = cosr * e[i] - sinr * d[i];
                g = sinr * d[i + 1];
                d[i + 1] = cosr * d[i + 1];
                var (cosl, sinl, r2) = Rotation(f, g);
                d[i] = r2;
                f = cosl * e[i] + sinl * d[i + 1];
                d[i + 1] = cosl * d[i + 1] - sinl * e[i];
                if (i < high - 1)
                {
                    g = sinl * e[i + 1];
                    e[i + 1] = cosl * e[i + 1];
                }
                right?.Add(i, cosr, sinr);
                left?.Add(i, cosl, sinl);
            }
            e[high - 1] = f;
        }
        else
        {
            double f = (Math.Abs(d[high]) - shift) * (Math.CopySign(1, d[high]) + shift / d[high]), g = e[high - 1];
            for (int i = high; i > low; i--)
            {
                var (cosr, sinr, r) = Rotation(f, g);
                if (i < high) e[i] = r;
                f = cosr * d[i] + sinr * e[i - 1];
                e[i - 1] = cosr * e[i - 1] - sinr * d[i];
                g = sinr * d[i - 1];
                d[i - 1] = cosr * d[i - 1];
                var (cosl, sinl, r2) = Rotation(f, g);
                d[i] = r2;
                f = cosl * e[i - 1] + sinl * d[i - 1];
                d[i - 1] = cosl * d[i - 1] - sinl * e[i - 1];
                if (i > low + 1)
                {
                    g = sinl * e[i - 2];
                    e[i - 2] = cosl * e[i - 2];
                }
                left?.Add(i - 1, cosr, -sinr);
                right?.Add(i - 1, cosl, -sinl);
            }
            e[low] = f;
        }
    }

    /// <summary>dlartg: (c, s, r) with c·f + s·g = r and -s·f + c·g = 0, c ≥ 0.</summary>
    internal static (double C, double S, double R) Rotation(double f, double g)
    {
        if (g == 0) return (1, 0, f);
        if (f == 0) return (0, Math.CopySign(1, g), Math.Abs(g));
        double h = Math.Sqrt(f * f + g * g);
        if (double.IsInfinity(h) || h < 1e-150) h = Hypot(f, g);
        double sf = Math.CopySign(1, f);
        return (Math.Abs(f) / h, sf * g / h, sf * h);
    }

    private static double Hypot(double a, double b)
    {
        a = Math.Abs(a);
        b = Math.Abs(b);
        double big = Math.Max(a, b), small = Math.Min(a, b);
        if (big == 0) return 0;
        double q = small / big;
        return big * Math.Sqrt(1 + q * q);
    }

    /// <summary>dlas2: the singular values of the 2x2 upper triangular [[f, g], [0, h]], without overflow.</summary>
    internal static (double Min, double Max) SingularValues2x2(double f, double g, double h)
    {
        double fa = Math.Abs(f), ga = Math.Abs(g), ha = Math.Abs(h);
        double fhmn = Math.Min(fa, ha), fhmx = Math.Max(fa, ha);
        if (fhmn == 0)
        {
            if (fhmx == 0) return (0, ga);
            double mx = Math.Max(fhmx, ga), mn = Math.Min(fhmx, ga);
            return (0, mx * Math.Sqrt(1 + (mn / mx) * (mn / mx)));
        }
        if (ga < fhmx)
        {
            double aS = 1 + fhmn / fhmx, aT = (fhmx - fhmn) / fhmx, aU = (ga / fhmx) * (ga / fhmx);
            double c = 2 / (Math.Sqrt(aS * aS + aU) + Math.Sqrt(aT * aT + aU));
            return (fhmn * c, fhmx / c);
        }
        double au = fhmx / ga;
        if (au == 0) return (fhmn * fhmx / ga, ga);
        double as2 = 1 + fhmn / fhmx, at2 = (fhmx - fhmn) / fhmx;
        double c2 = 1 / (Math.Sqrt(1 + (as2 * au) * (as2 * au)) + Math.Sqrt(1 + (at2 * au) * (at2 * au)));
        return (2 * (fhmn * c2) * au, ga / (c2 + c2));
    }

    /// <summary>
    /// The 2x2 block [[f, g], [0, h]] at rows (j, j+1) made diagonal: a right rotation makes its two columns
    /// orthogonal (the one-sided Jacobi rotation), then a left rotation turns the first column onto e₀, which
    /// puts the second onto e₁. With L·B·R = diag, L = [[cl, sl], [-sl, cl]], R = [[cr, -sr], [sr, cr]].
    /// </summary>
    private static void Solve2x2(double[] d, double[] e, int j, RotationBatch? left, RotationBatch? right)
    {
        double f = d[j], g = e[j], h = d[j + 1];
        // columns x = (f, 0), y = (g, h)
        double alpha = f * f, beta = g * g + h * h, gamma = f * g;
        double cr = 1, sr = 0;
        if (gamma != 0)
        {
            double zeta = (beta - alpha) / (2 * gamma);
            double t = (zeta >= 0 ? 1 : -1) / (Math.Abs(zeta) + Math.Sqrt(1 + zeta * zeta));
            double c = 1 / Math.Sqrt(1 + t * t);
            cr = c;
            sr = -c * t;                                    // x' = c·x - s·y = cr·x + sr·y
        }
        // B·R: first column (a, b), second (p, q)
        double a = cr * f + sr * g, b = sr * h, p = -sr * f + cr * g, q = cr * h;
        double rr = Hypot(a, b), cl, sl, d0, d1;
        if (rr != 0)
        {
            cl = a / rr;
            sl = b / rr;
            d0 = rr;
            d1 = (-b * p + a * q) / rr;
        }
        else
        {
            double norm = Hypot(p, q);
            if (norm == 0) { cl = 1; sl = 0; }
            else { cl = q / norm; sl = -p / norm; }
            d0 = 0;
            d1 = norm;
        }
        d[j] = d0;
        d[j + 1] = d1;
        e[j] = 0;
        // Vᵀ rows: R's transpose on the left, rows (j, j+1) → (cr·v_j + sr·v_{j+1}, cr·v_{j+1} - sr·v_j)
        right?.Add(j, cr, sr);
        // U's columns: U·Lᵀ, columns (j, j+1) → (cl·u_j + sl·u_{j+1}, cl·u_{j+1} - sl·u_j)
        left?.Add(j, cl, sl);
    }
}
