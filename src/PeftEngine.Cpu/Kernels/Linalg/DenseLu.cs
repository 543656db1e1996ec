using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

/// <summary>
/// LU factorization with partial pivoting of one row-major n×n matrix of doubles, in place, and the solve that
/// uses it. Right-looking (row k eliminates every row below it); each row update is a SIMD multiply-add of a
/// contiguous row tail, and the rows of one step run in parallel (each row is written by one thread only).
/// </summary>
/// <remarks>Shared by the fast and the reference CPU backends (see IBackend.Linalg). LAPACK: dgetrf / dgetrs.</remarks>
internal static unsafe class DenseLu
{
    /// <summary>Factors a in place into L\U; piv[k] is the row swapped with row k. Returns the first zero pivot or -1.</summary>
    public static int Factor(double* a, int n, long* piv)
    {
        int failed = -1;
        for (int k = 0; k < n; k++)
        {
            // pivot: the largest |a[i, k]| for i ≥ k
            int p = k;
            double best = Math.Abs(a[(long)k * n + k]);
            for (int i = k + 1; i < n; i++)
            {
                double v = Math.Abs(a[(long)i * n + k]);
                if (v > best) { best = v; p = i; }
            }
            piv[k] = p;
            if (p != k)
                SwapRows(a + (long)k * n, a + (long)p * n, n);
            double pivot = a[(long)k * n + k];
            if (pivot == 0)
            {
                if (failed < 0) failed = k;
                continue;
            }
            int tail = n - k - 1;
            if (tail == 0) continue;
            double* rowK = a + (long)k * n + k + 1;
            CpuParallel.For(tail, tail, (r0, r1) =>
            {
                var src = new ReadOnlySpan<double>(rowK, tail);
                for (long r = r0; r < r1; r++)
                {
                    double* row = a + (k + 1 + r) * n;
                    double l = row[k] /= pivot;                 // L's multiplier
                    if (l == 0) continue;
                    var dst = new Span<double>(row + k + 1, tail);
                    TensorPrimitives.MultiplyAdd(src, -l, dst, dst); // row -= l · row_k
                }
            });
        }
        return failed;
    }

    /// <summary>Overwrites b (n×k, row-major) with the solution of A·x = b, given A's factors from <see cref="Factor"/>.</summary>
    public static void Solve(double* lu, long* piv, int n, double* b, int k)
    {
        for (int i = 0; i < n; i++) // b := P·b, in the order the swaps were made
            if (piv[i] != i)
                SwapRows(b + (long)i * k, b + piv[i] * k, k);
        for (int i = 0; i < n; i++) // L·y = P·b (unit diagonal): y_i = b_i - Σ_{j<i} L_ij y_j
        {
            var bi = new Span<double>(b + (long)i * k, k);
            for (int j = 0; j < i; j++)
            {
                double l = lu[(long)i * n + j];
                if (l != 0) TensorPrimitives.MultiplyAdd(new ReadOnlySpan<double>(b + (long)j * k, k), -l, bi, bi);
            }
        }
        for (int i = n - 1; i >= 0; i--) // U·x = y: x_i = (y_i - Σ_{j>i} U_ij x_j) / U_ii
        {
            var bi = new Span<double>(b + (long)i * k, k);
            for (int j = i + 1; j < n; j++)
            {
                double u = lu[(long)i * n + j];
                if (u != 0) TensorPrimitives.MultiplyAdd(new ReadOnlySpan<double>(b + (long)j * k, k), -u, bi, bi);
            }
            TensorPrimitives.Divide(bi, lu[(long)i * n + i], bi);
        }
    }

    private static void SwapRows(double* x, double* y, int len)
    {
        for (int i = 0; i < len; i++) (x[i], y[i]) = (y[i], x[i]);
    }
}
