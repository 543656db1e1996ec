namespace PeftEngine;

/// <summary>Reductions along one dimension.</summary>
public enum ReduceOp
{
    Sum, Mean, Max, Min, Prod,
    /// <summary>log Σ exp(x), computed as m + log Σ exp(x - m) with m the maximum (so it does not overflow);
    /// an empty or all -∞ slice gives -∞, a slice holding +∞ gives +∞.</summary>
    LogSumExp,
}

public partial interface IBackend
{
    /// <summary>
    /// Reduces a contiguous x viewed as (outer, n, inner) along the middle axis into y, a contiguous
    /// (outer, 1, inner) tensor. For Max and Min, <paramref name="indices"/> (I64, same shape as y) receives the
    /// position of the first extreme element when not null. Accumulation is in the compute dtype, in a fixed
    /// order, so results do not depend on the thread count.
    /// </summary>
    void Reduce(ReduceOp op, Tensor x, int dim, Tensor y, Tensor? indices = null);
}
