using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

/// <summary>
/// Cholesky factor A = L·Lᵀ of one row-major symmetric positive definite n×n matrix (lower triangle read), by
/// rows: L_ij = (A_ij - Σ_{k&lt;j} L_ik·L_jk) / L_jj and L_jj = sqrt(A_jj - Σ_{k&lt;j} L_jk²); the sums are
/// SIMD dot products of contiguous row prefixes.
/// </summary>
/// <remarks>Shared by the fast and the reference CPU backends (see IBackend.Linalg). LAPACK: dpotrf.</remarks>
internal static unsafe class DenseCholesky
{
    /// <summary>Writes L into l (zeros above the diagonal). Returns the first column whose pivot is not positive, or -1.</summary>
    public static int Factor(double* a, int n, double* l)
    {
        new Span<double>(l, checked(n * n)).Clear();
        for (int j = 0; j < n; j++)
        {
            var lj = new ReadOnlySpan<double>(l + (long)j * n, j);
            double d = a[(long)j * n + j] - TensorPrimitives.Dot(lj, lj);
            if (!(d > 0)) return j; // also catches NaN
            double ljj = Math.Sqrt(d);
            l[(long)j * n + j] = ljj;
            int below = n - j - 1;
            double* rowJ = l + (long)j * n;
            CpuParallel.For(below, j + 1, (r0, r1) =>
            {
                var prefix = new ReadOnlySpan<double>(rowJ, j);
                for (long r = r0; r < r1; r++)
                {
                    long i = j + 1 + r;
                    double* li = l + i * n;
                    li[j] = (a[i * n + j] - TensorPrimitives.Dot(new ReadOnlySpan<double>(li, j), prefix)) / ljj;
                }
            });
        }
        return -1;
    }
}
