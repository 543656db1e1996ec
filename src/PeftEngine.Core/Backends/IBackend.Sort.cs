namespace PeftEngine;

public partial interface IBackend
{
    /// <summary>
    /// Stable sort of a contiguous x viewed as (outer, n, inner) along the middle axis. values (x's dtype) and
    /// indices (I64) are contiguous tensors of x's shape; indices[o, j, i] is the position along the axis that
    /// values[o, j, i] came from.
    /// </summary>
    /// <remarks>
    /// Order: NaN counts as larger than every number (last when ascending, first when descending); -0 and +0
    /// are equal. Equal keys keep their original order in both directions, so the result is fully determined.
    /// </remarks>
    void Sort(Tensor x, int dim, bool descending, Tensor values, Tensor indices);

    /// <summary>
    /// The k largest (or smallest) elements of a contiguous x viewed as (outer, n, inner) along the middle axis,
    /// in sorted order. values and indices are contiguous (outer, k, inner) tensors. The result equals the first
    /// k entries of <see cref="Sort"/> (descending for largest), ties and NaN included.
    /// </summary>
    void TopK(Tensor x, int dim, int k, bool largest, Tensor values, Tensor indices);

    /// <summary>
    /// The backward of every op that picks elements along a dimension (max/min, sort, topk). grad and indices
    /// are contiguous (outer, m, inner) tensors (indices I64); dx is a contiguous (outer, n, inner) tensor that
    /// is overwritten: dx = 0, then dx[o, indices[o, j, i], i] += grad[o, j, i] for every j in order.
    /// </summary>
    void SelectionBackward(Tensor grad, Tensor indices, int dim, Tensor dx);
}
