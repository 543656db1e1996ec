using ILGPU.Runtime;
using PeftEngine.Gpu.Kernels;

namespace PeftEngine.Gpu;

/// <summary>Which GEMM a <see cref="GpuBackend"/> runs for F32 and F64 operands.</summary>
public enum GemmLibrary
{
    /// <summary>The backend's own tiled kernel (every device; the only choice off CUDA and for 16-bit operands).</summary>
    Own,

    /// <summary>NVIDIA cuBLAS through ILGPU's <c>CuBlas</c> wrapper (CUDA devices with the cuBLAS library installed).</summary>
    CuBlas,
}

/// <summary>
/// The arguments of one column-major BLAS gemm call, <c>gemm(TransFirst, TransSecond, M, N, K, alpha, B, LdFirst,
/// A, LdSecond, beta, C, Ldc)</c>, that computes the row-major <c>C (m × n) = op(A) · op(B)</c>: a row-major matrix
/// is its transpose seen column-major, so the call computes Cᵀ = op(B)ᵀ · op(A)ᵀ with B as the first operand.
/// </summary>
/// <param name="TransFirst">Whether BLAS transposes its first operand (the memory of B).</param>
/// <param name="TransSecond">Whether BLAS transposes its second operand (the memory of A).</param>
/// <param name="M">Rows of the column-major result Cᵀ: n.</param>
/// <param name="N">Columns of Cᵀ: m.</param>
/// <param name="K">The shared dimension k.</param>
/// <param name="LdFirst">Leading dimension of B's memory as a column-major matrix.</param>
/// <param name="LdSecond">Leading dimension of A's memory as a column-major matrix.</param>
/// <param name="Ldc">Leading dimension of C's memory (n: C is contiguous).</param>
internal readonly record struct ColumnMajorGemm(bool TransFirst, bool TransSecond, int M, int N, int K, int LdFirst, int LdSecond, int Ldc)
{
    /// <summary>
    /// The call for <c>C = op(A) · op(B)</c> with op(A) (m × k) and op(B) (k × n) given as element strides
    /// (<see cref="MatrixLayout.Row"/>, <see cref="MatrixLayout.Col"/> of op(X), the transpose flag already applied),
    /// or null when an operand has no unit stride (BLAS needs one) or a leading dimension outside int.
    /// </summary>
    public static ColumnMajorGemm? Map(int m, int n, int k, MatrixLayout a, MatrixLayout b)
    {
        var first = Operand(b, k, n);
        var second = Operand(a, m, k);
        if (first is null || second is null) return null;
        return new ColumnMajorGemm(first.Value.Trans, second.Value.Trans, n, m, k, first.Value.Ld, second.Value.Ld, Math.Max(1, n));
    }

    /// <summary>
    /// How BLAS reads a (rows × cols) operand L = op(X), element (r, c) at r·Row + c·Col, to get the Lᵀ it needs:
    /// with unit column stride the memory already is Lᵀ column-major (leading dimension Row, no transpose); with
    /// unit row stride it is L column-major (leading dimension Col), which BLAS transposes. A dimension of size 1
    /// makes its stride irrelevant, and the leading dimension is then any value BLAS accepts.
    /// </summary>
    private static (bool Trans, int Ld)? Operand(MatrixLayout x, int rows, int cols)
    {
        // Lᵀ is (cols × rows) column-major: element (c, r) at c + r·ld.
        if ((x.Col == 1 || cols == 1) && (rows == 1 || x.Row >= Math.Max(1, cols)))
        {
            long ld = rows == 1 ? Math.Max(1, cols) : x.Row;
            if (ld <= int.MaxValue) return (false, (int)ld);
        }
        // L is (rows × cols) column-major: element (r, c) at r + c·ld.
        if ((x.Row == 1 || rows == 1) && (cols == 1 || x.Col >= Math.Max(1, rows)))
        {
            long ld = cols == 1 ? Math.Max(1, rows) : x.Col;
            if (ld <= int.MaxValue) return (true, (int)ld);
        }
        return null;
    }
}

/// <summary>The choice between <see cref="GemmLibrary.Own"/> and <see cref="GemmLibrary.CuBlas"/>.</summary>
internal static class GemmSelection
{
    /// <summary>The environment variable that sets the choice: <c>own</c>, <c>cublas</c> or <c>auto</c> (the default).</summary>
    public const string Variable = "PEFTENGINE_GPU_GEMM";

    /// <summary>
    /// cuBLAS on a CUDA device when it loads (<paramref name="cuBlasLoads"/>, asked only then) unless
    /// <paramref name="setting"/> is <c>own</c>; <c>cublas</c> insists on it and throws when it cannot be had.
    /// </summary>
    public static GemmLibrary Choose(AcceleratorType type, string? setting, Func<bool> cuBlasLoads)
    {
        switch (setting?.Trim().ToLowerInvariant())
        {
            case null or "" or "auto":
                return type == AcceleratorType.Cuda && cuBlasLoads() ? GemmLibrary.CuBlas : GemmLibrary.Own;
            case "own":
                return GemmLibrary.Own;
            case "cublas":
                if (type == AcceleratorType.Cuda && cuBlasLoads()) return GemmLibrary.CuBlas;
                throw new InvalidOperationException($"{Variable}=cublas: cuBLAS is not available on this {type} accelerator" +
                    (type == AcceleratorType.Cuda ? " (the cuBLAS library could not be loaded)" : " (it needs a CUDA device)"));
            default:
                throw new ArgumentException($"{Variable}={setting}: expected own, cublas or auto");
        }
    }
}
