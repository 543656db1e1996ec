namespace PeftEngine;

/// <summary>Where a matrix factorization stopped: the batch element and the column (pivot) that failed.</summary>
/// <param name="Batch">Index of the matrix in the batch.</param>
/// <param name="Column">The zero pivot (LU) or the non-positive pivot (Cholesky), 0-based.</param>
public readonly record struct FactorizationFailure(int Batch, int Column);

/// <summary>
/// Dense linear algebra and spectral kernels. Every tensor these kernels see is a contiguous <b>F64</b> batch of
/// matrices, <c>(batch, rows, cols)</c>: the ops in <c>Ops/Linalg</c> cast F32 inputs to F64, make them
/// contiguous, and cast the results back, so every decomposition computes in double whatever the input dtype.
/// </summary>
/// <remarks>
/// The kernels that are hot for PEFT (SVD and QR of hidden-size matrices, the FFT of large spectra) have a fast
/// path in the CPU backend (SIMD columns, parallel rotations, radix-2 / Bluestein FFT) and a plain scalar
/// definition in the reference backend (cyclic Jacobi, textbook Householder, the O(n²) DFT), checked against each
/// other. LU, Cholesky and the symmetric eigensolver are single careful F64 implementations shared by both CPU
/// backends: they run on small matrices in every PEFT method we know of (OFT blocks, LoRA-Pro's r×r systems).
/// </remarks>
public partial interface IBackend
{
    /// <summary>
    /// Thin singular value decomposition a = u · diag(s) · vh of each matrix of a (batch, m, n), k = min(m, n):
    /// s (batch, k) descending and non-negative; u (batch, m, k) and vh (batch, k, n) with orthonormal columns /
    /// rows (completed to an orthonormal set when a is rank-deficient). With <paramref name="computeUV"/> false,
    /// u and vh may be null and only s is written.
    /// </summary>
    void Svd(Tensor a, Tensor? u, Tensor s, Tensor? vh, bool computeUV);

    /// <summary>
    /// Householder QR a = q · r of each matrix of a (batch, m, n). Reduced (<paramref name="complete"/> false):
    /// q (batch, m, k), r (batch, k, n), k = min(m, n). Complete: q (batch, m, m), r (batch, m, n). r is upper
    /// triangular; q has orthonormal columns.
    /// </summary>
    void Qr(Tensor a, Tensor q, Tensor r, bool complete);

    /// <summary>
    /// Eigendecomposition of each symmetric matrix of a (batch, n, n) (only the lower triangle is read):
    /// eigenvalues w (batch, n) ascending and orthonormal eigenvectors as the columns of v (batch, n, n).
    /// </summary>
    void Eigh(Tensor a, Tensor w, Tensor v);

    /// <summary>
    /// Cholesky factor l (batch, n, n), lower triangular with a positive diagonal, of each symmetric positive
    /// definite matrix of a (only the lower triangle is read). Returns the first matrix and pivot that was not
    /// positive, or null on success.
    /// </summary>
    FactorizationFailure? Cholesky(Tensor a, Tensor l);

    /// <summary>
    /// LU factorization with partial pivoting, P · a = L · U, of each matrix of a (batch, n, n): lu holds U on
    /// and above the diagonal and L's multipliers below (unit diagonal implied); pivots (batch, n), I64, is the
    /// row swapped with row i at step i (LAPACK's ipiv, 0-based). Returns the first exactly-zero pivot, or null;
    /// the factorization still completes.
    /// </summary>
    FactorizationFailure? LuFactor(Tensor a, Tensor lu, Tensor pivots);

    /// <summary>Solves a · x = b for x (batch, n, k) given the factors of <see cref="LuFactor"/> and b (batch, n, k).</summary>
    void LuSolve(Tensor lu, Tensor pivots, Tensor b, Tensor x);

    /// <summary>
    /// Discrete Fourier transform along the middle axis of x (rows, n, 2) (complex numbers as (re, im) pairs)
    /// into y of the same shape: y[k] = scale · Σ_j x[j] · exp(∓2πi·jk/n), the minus sign for the forward
    /// transform and the plus sign when <paramref name="inverse"/>. Any n ≥ 1.
    /// </summary>
    void Fft(Tensor x, Tensor y, bool inverse, double scale);
}
