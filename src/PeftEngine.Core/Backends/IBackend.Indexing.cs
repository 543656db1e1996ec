namespace PeftEngine;

/// <summary>
/// Kernels that move elements by index (gather, index-select, scatter-add), mask them (masked fill,
/// triangles) or make them (arange).
/// </summary>
/// <remarks>
/// Geometry: an index op along dimension <c>dim</c> of a contiguous tensor views it as (outer, n, inner), where
/// outer is the product of the sizes before dim and inner the product after it. Index tensors are I64 and
/// contiguous, and every index is already known to lie in [0, n): the op checks the range (and names itself in
/// the error) before it calls the kernel. Outputs are contiguous and preallocated. Kernels that accumulate do
/// so in a fixed order per output element, so results do not depend on the thread count.
/// </remarks>
public partial interface IBackend
{
    /// <summary>
    /// y[o, j, i] = x[o, index[j], i]. x is contiguous (outer, n, inner), index is a contiguous 1-D tensor of m
    /// elements, y is contiguous (outer, m, inner). Any dtype (elements are copied bit for bit).
    /// </summary>
    void IndexSelect(Tensor x, int dim, Tensor index, Tensor y);

    /// <summary>
    /// y[o, index[j], i] += src[o, j, i], accumulating repeated indices in increasing j. y is contiguous
    /// (outer, n, inner) and updated in place; index is a contiguous 1-D tensor of m elements; src is
    /// contiguous (outer, m, inner). F32 or F64.
    /// </summary>
    void IndexAdd(Tensor y, int dim, Tensor index, Tensor src);

    /// <summary>
    /// y[o, j, i] = x[o, index[o, j, i], i]. x is contiguous (outer, n, inner); index and y are contiguous
    /// (outer, m, inner), with the same sizes as x in every dimension except dim. Any dtype.
    /// </summary>
    void Gather(Tensor x, int dim, Tensor index, Tensor y);

    /// <summary>
    /// y[o, index[o, j, i], i] += src[o, j, i], accumulating repeated indices in increasing j. y is contiguous
    /// (outer, n, inner) and updated in place; index and src are contiguous (outer, m, inner), with the same
    /// sizes as y in every dimension except dim. F32 or F64.
    /// </summary>
    void ScatterAdd(Tensor y, int dim, Tensor index, Tensor src);

    /// <summary>
    /// y = mask ? value : x, elementwise. x (any strides) and mask (U8, any strides, 0 where broadcast) have
    /// y's shape; y is contiguous. A mask byte counts as set when it is not 0. F32 or F64.
    /// </summary>
    void MaskedFill(Tensor x, Tensor mask, double value, Tensor y);

    /// <summary>
    /// Keeps one triangle of each matrix in the last two dimensions and zeroes the rest: for row r and column
    /// c, the lower triangle keeps c &lt;= r + diagonal and the upper triangle keeps c &gt;= r + diagonal.
    /// x and y are contiguous with the same shape (rank 2 or more). Any dtype.
    /// </summary>
    void Triangle(Tensor x, Tensor y, int diagonal, bool upper);

    /// <summary>y[i] = start + i * step for a contiguous 1-D y of dtype F32, F64 or I64 (computed in double, or
    /// in 64-bit integers for I64 when start and step are whole numbers).</summary>
    void Arange(Tensor y, double start, double step);
}
