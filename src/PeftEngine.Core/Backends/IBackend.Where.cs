namespace PeftEngine;

/// <summary>Elementwise comparisons; the result is a U8 mask (1 where the relation holds, else 0).</summary>
/// <remarks>Comparisons with NaN are false, except <see cref="Ne"/> which is true (IEEE 754).</remarks>
public enum CompareOp
{
    /// <summary>a == b.</summary>
    Eq,
    /// <summary>a != b.</summary>
    Ne,
    /// <summary>a &lt; b.</summary>
    Lt,
    /// <summary>a &lt;= b.</summary>
    Le,
    /// <summary>a &gt; b.</summary>
    Gt,
    /// <summary>a &gt;= b.</summary>
    Ge,
}

public partial interface IBackend
{
    /// <summary>
    /// y = cond ? a : b, elementwise. cond is U8 (any non-zero byte counts as true); a, b and y share one dtype
    /// (any dtype: elements are moved, not computed). cond, a and b are views already expanded to y's shape
    /// (stride 0 where broadcast); y is contiguous.
    /// </summary>
    void Where(Tensor cond, Tensor a, Tensor b, Tensor y);

    /// <summary>
    /// y = (a ⋈ b) ? 1 : 0 into a contiguous U8 tensor y. a and b share one dtype (F32, F64, I32, I64 or U8) and
    /// are views already expanded to y's shape (stride 0 where broadcast).
    /// </summary>
    void Compare(CompareOp op, Tensor a, Tensor b, Tensor y);
}
