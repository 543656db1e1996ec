namespace PeftEngine;

/// <summary>
/// Linear algebra in the manner of torch.linalg: decompositions (this file), solves and determinants,
/// the matrix exponential, the Sylvester solver, randomized SVD. A separate static class rather than more
/// <see cref="Ops"/> members so the names read as in PyTorch (<c>Linalg.Svd(a)</c> for torch.linalg.svd) and
/// the dozens of element ops stay apart from the matrix ones. Every op accepts (..., m, n) batches in f32 or
/// f64 and computes in f64 inside the kernels; results come back in the input dtype.
/// </summary>
/// <remarks>
/// Decompositions have no gradient (PEFT methods use them to initialize adapters, under GradMode.Disable());
/// calling one on a tensor that records a graph is an error rather than a silently detached result. Solve,
/// Inverse, SlogDet/Det and MatrixExp are differentiable.
/// </remarks>
public static partial class Linalg
{
    /// <summary>
    /// Singular value decomposition a = U · diag(S) · Vh, S descending. Thin by default: U (..., m, k),
    /// Vh (..., k, n), k = min(m, n); with <paramref name="fullMatrices"/> U is (..., m, m) and Vh (..., n, n),
    /// completed to orthonormal bases. Singular vectors are unique only up to sign (and rotation within a
    /// repeated singular value).
    /// </summary>
    /// <remarks>PyTorch: torch.linalg.svd(a, full_matrices). One-sided Jacobi in f64.</remarks>
    public static SvdResult Svd(Tensor a, bool fullMatrices = false)
    {
        const string op = "Svd";
        LinalgArgs.RequireMatrix(a, op);
        LinalgArgs.RequireNoGraph(a, op);
        var batch = LinalgArgs.Batch(a);
        int m = a.Shape[-2], n = a.Shape[-1], k = Math.Min(m, n);
        using var a64 = LinalgArgs.AsF64(a);
        var u = Tensor.Empty(Shape.Wrap([.. batch, m, k]), DType.F64, a.Device);
        var s = Tensor.Empty(Shape.Wrap([.. batch, k]), DType.F64, a.Device);
        var vh = Tensor.Empty(Shape.Wrap([.. batch, k, n]), DType.F64, a.Device);
        if (a.Numel > 0) a.Backend.Svd(a64, u, s, vh, computeUV: true);
        if (fullMatrices)
        {
            using (GradMode.Disable())
            {
                var uFull = CompleteColumns(u);
                u.Dispose();
                u = uFull;
                using var v = Ops.Transpose(vh, -1, -2);   // (..., k, n) -> (..., n, k)
                using var vFull = CompleteColumns(v);
                vh.Dispose();
                using var vhView = Ops.Transpose(vFull, -1, -2);
                vh = Ops.ContiguousNoGrad(vhView);
            }
        }
        return new SvdResult(LinalgArgs.FromF64(u, a.DType), LinalgArgs.FromF64(s, a.DType), LinalgArgs.FromF64(vh, a.DType));
    }

    /// <summary>The singular values of a, descending, (..., min(m, n)).</summary>
    /// <remarks>PyTorch: torch.linalg.svdvals.</remarks>
    public static Tensor SvdVals(Tensor a)
    {
        const string op = "SvdVals";
        LinalgArgs.RequireMatrix(a, op);
        LinalgArgs.RequireNoGraph(a, op);
        int k = Math.Min(a.Shape[-2], a.Shape[-1]);
        using var a64 = LinalgArgs.AsF64(a);
        var s = Tensor.Empty(Shape.Wrap([.. LinalgArgs.Batch(a), k]), DType.F64, a.Device);
        if (a.Numel > 0) a.Backend.Svd(a64, null, s, null, computeUV: false);
        return LinalgArgs.FromF64(s, a.DType);
    }

    /// <summary>
    /// Householder QR a = Q · R with R upper triangular. Reduced (default): Q (..., m, k), R (..., k, n);
    /// complete: Q (..., m, m), R (..., m, n). R's diagonal may be negative (LAPACK's sign convention).
    /// </summary>
    /// <remarks>PyTorch: torch.linalg.qr(a, mode="reduced" | "complete").</remarks>
    public static QrResult Qr(Tensor a, bool complete = false)
    {
        const string op = "Qr";
        LinalgArgs.RequireMatrix(a, op);
        LinalgArgs.RequireNoGraph(a, op);
        var batch = LinalgArgs.Batch(a);
        int m = a.Shape[-2], n = a.Shape[-1], k = complete ? m : Math.Min(m, n);
        using var a64 = LinalgArgs.AsF64(a);
        var q = Tensor.Empty(Shape.Wrap([.. batch, m, k]), DType.F64, a.Device);
        var r = Tensor.Empty(Shape.Wrap([.. batch, k, n]), DType.F64, a.Device);
        if (a.Numel > 0 || (complete && q.Numel > 0)) a.Backend.Qr(a64, q, r, complete);
        return new QrResult(LinalgArgs.FromF64(q, a.DType), LinalgArgs.FromF64(r, a.DType));
    }

    /// <summary>Eigenvalues (ascending) and orthonormal eigenvectors (columns) of symmetric matrices; only the
    /// lower triangle is read.</summary>
    /// <remarks>PyTorch: torch.linalg.eigh(a, UPLO="L"). Cyclic Jacobi in f64.</remarks>
    public static EighResult Eigh(Tensor a)
    {
        const string op = "Eigh";
        LinalgArgs.RequireSquare(a, op);
        LinalgArgs.RequireNoGraph(a, op);
        int n = a.Shape[-1];
        using var a64 = LinalgArgs.AsF64(a);
        var w = Tensor.Empty(Shape.Wrap([.. LinalgArgs.Batch(a), n]), DType.F64, a.Device);
        var v = Tensor.Empty(a.Shape, DType.F64, a.Device);
        if (a.Numel > 0) a.Backend.Eigh(a64, w, v);
        return new EighResult(LinalgArgs.FromF64(w, a.DType), LinalgArgs.FromF64(v, a.DType));
    }

    /// <summary>The lower-triangular Cholesky factor L of symmetric positive definite matrices, a = L · Lᵀ
    /// (only the lower triangle is read). Throws, naming the matrix and pivot, when a is not positive definite.</summary>
    /// <remarks>PyTorch: torch.linalg.cholesky.</remarks>
    public static Tensor Cholesky(Tensor a)
    {
        const string op = "Cholesky";
        LinalgArgs.RequireSquare(a, op);
        LinalgArgs.RequireNoGraph(a, op);
        using var a64 = LinalgArgs.AsF64(a);
        var l = Tensor.Empty(a.Shape, DType.F64, a.Device);
        var failed = a.Numel > 0 ? a.Backend.Cholesky(a64, l) : null;
        if (failed is { } f)
        {
            l.Dispose();
            throw new ArgumentException(
                $"{op}: the matrix {a.Shape} (batch element {f.Batch}) is not positive definite: pivot {f.Column} is not positive");
        }
        return LinalgArgs.FromF64(l, a.DType);
    }

    /// <summary>LU factorization with partial pivoting in packed form, for repeated solves (<see cref="LuSolve"/>).
    /// Singular matrices are factored without error (a zero appears on U's diagonal).</summary>
    /// <remarks>PyTorch: torch.linalg.lu_factor (pivots here are 0-based row indices).</remarks>
    public static LuFactors LuFactor(Tensor a)
    {
        const string op = "LuFactor";
        LinalgArgs.RequireSquare(a, op);
        LinalgArgs.RequireNoGraph(a, op);
        var (lu, piv, _) = Factor(a, op);
        return new LuFactors(LinalgArgs.FromF64(lu, a.DType), piv);
    }

    /// <summary>a = P · L · U with P a permutation matrix, L unit lower triangular and U upper triangular (square a).</summary>
    /// <remarks>PyTorch: torch.linalg.lu.</remarks>
    public static LuResult Lu(Tensor a)
    {
        const string op = "Lu";
        LinalgArgs.RequireSquare(a, op);
        LinalgArgs.RequireNoGraph(a, op);
        int n = a.Shape[-1];
        var (lu, piv, _) = Factor(a, op);
        using (lu)
        using (piv)
        using (GradMode.Disable())
        {
            using var eye = LinalgArgs.Eye(n, DType.F64, a.Device);
            using var strict = Ops.Tril(lu, -1);
            using var l = Ops.Add(strict, eye);
            using var u = Ops.Triu(lu);
            // P·A = L·U with P from the row swaps (LAPACK), so A = Pᵀ·L·U: P[perm[i], i] = 1.
            var pivots = piv.ToArray<long>();
            long count = pivots.Length / Math.Max(n, 1);
            var p = new double[count * n * n];
            for (long b = 0; b < count; b++)
            {
                var perm = Enumerable.Range(0, n).ToArray();
                for (int i = 0; i < n; i++)
                {
                    int j = (int)pivots[b * n + i];
                    (perm[i], perm[j]) = (perm[j], perm[i]);
                }
                for (int i = 0; i < n; i++) p[b * n * n + (long)perm[i] * n + i] = 1;
            }
            using var pHost = Tensor.FromArray(p, a.Shape.ToArray());
            using var pDev = pHost.To(a.Device);
            return new LuResult(pDev.To(a.DType), l.To(a.DType), u.To(a.DType));
        }
    }

    /// <summary>LU factors of a in f64: (lu, I64 pivots, the first zero pivot or null).</summary>
    internal static (Tensor LU, Tensor Pivots, FactorizationFailure? Failure) Factor(Tensor a, string op)
    {
        int n = a.Shape[-1];
        using var a64 = LinalgArgs.AsF64(a);
        var lu = Tensor.Empty(a.Shape, DType.F64, a.Device);
        var piv = Tensor.Empty(Shape.Wrap([.. LinalgArgs.Batch(a), n]), DType.I64, a.Device);
        var failure = a.Numel > 0 ? a.Backend.LuFactor(a64, lu, piv) : null;
        return (lu, piv, failure);
    }

    /// <summary>q (..., m, k) with orthonormal columns extended to an orthonormal basis (..., m, m): the extra
    /// columns come from a complete QR of q (its first k columns span the same space as q).</summary>
    private static Tensor CompleteColumns(Tensor q)
    {
        int m = q.Shape[-2], k = q.Shape[-1];
        if (k == m) return q.Alias();
        using var full = Qr(q, complete: true);
        using var extra = Ops.Slice(full.Q, -1, k, m); // (..., m, m - k)
        return Ops.Cat([q, extra], -1);
    }
}
