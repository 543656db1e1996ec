namespace PeftEngine;

/// <summary>
/// Randomized truncated SVD (Halko, Martinsson and Tropp, 2011, algorithms 4.4 and 5.1): sketch the range of
/// A (m×n) with a Gaussian test matrix Ω (n×(r+q)), Y = A·Ω, sharpen it with <c>niter</c> power iterations
/// Y = A·(Aᵀ·Y) (re-orthonormalized by QR each half step), take Q = qr(Y), and finish with the exact SVD of the
/// small matrix B = Qᵀ·A: A ≈ (Q·Û)·Σ·Vᵀ. The products run on the fast GEMM; only (r+q)-wide matrices are factored.
/// </summary>
/// <remarks>PyTorch: torch.svd_lowrank(A, q, niter) (PiSSA's fast initialization); scikit-learn:
/// randomized_svd. Not differentiable.</remarks>
public static partial class Linalg
{
    /// <summary>
    /// The top <paramref name="rank"/> singular triplets of a 2-D a: U (m, rank), S (rank), Vh (rank, n).
    /// <paramref name="oversampling"/> extra sketch columns and <paramref name="niter"/> power iterations trade
    /// time for accuracy; Ω is drawn from <paramref name="generator"/> (Generator.Default when null).
    /// </summary>
    public static SvdResult RandomizedSvd(Tensor a, int rank, int oversampling = 10, int niter = 2, Generator? generator = null)
    {
        const string op = "RandomizedSvd";
        LinalgArgs.RequireMatrix(a, op);
        LinalgArgs.RequireNoGraph(a, op);
        if (a.Rank != 2) throw new ArgumentException($"{op}: expected a 2-D matrix, got {a.Shape}");
        int m = a.Shape[0], n = a.Shape[1];
        if (rank < 1 || rank > Math.Min(m, n))
            throw new ArgumentOutOfRangeException(nameof(rank), $"{op}: rank {rank} must be in [1, {Math.Min(m, n)}] for a matrix {a.Shape}");
        if (oversampling < 0 || niter < 0)
            throw new ArgumentOutOfRangeException(nameof(oversampling), $"{op}: oversampling ({oversampling}) and niter ({niter}) must be non-negative");
        int width = Math.Min(rank + oversampling, Math.Min(m, n));
        using (GradMode.Disable())
        {
            using var a64 = LinalgArgs.AsF64(a);
            using var at = Ops.Transpose(a64, 0, 1);
            using var omega = Tensor.Randn(new Shape(n, width), generator, DType.F64, a.Device);
            using var y = Ops.MatMul(a64, omega);            // (m, width): a sketch of A's range
            var q = Orthonormalize(y);
            for (int i = 0; i < niter; i++)
            {
                using var z = Ops.MatMul(at, q);              // (n, width)
                q.Dispose();
                using var qz = Orthonormalize(z);
                using var y2 = Ops.MatMul(a64, qz);           // (m, width)
                q = Orthonormalize(y2);
            }
            using (q)
            {
                using var qt = Ops.Transpose(q, 0, 1);
                using var bsmall = Ops.MatMul(qt, a64);       // B = Qᵀ·A, (width, n)
                using var svd = Svd(bsmall);
                using var uFull = Ops.MatMul(q, svd.U);       // (m, width)
                using var u = Ops.Slice(uFull, 1, 0, rank);
                using var s = Ops.Slice(svd.S, 0, 0, rank);
                using var vh = Ops.Slice(svd.Vh, 0, 0, rank);
                return new SvdResult(u.To(a.DType), s.To(a.DType), vh.To(a.DType));
            }
        }
    }

    /// <summary>Q of the reduced QR of y: orthonormal columns spanning y's range.</summary>
    private static Tensor Orthonormalize(Tensor y)
    {
        using var qr = Qr(y);
        return qr.Q.Alias();
    }
}
