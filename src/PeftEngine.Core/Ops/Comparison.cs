namespace PeftEngine;

/// <summary>
/// Elementwise comparisons with broadcasting. The result is a U8 mask (1 where the relation holds, else 0)
/// that feeds <see cref="Where(Tensor, Tensor, Tensor)"/>; comparisons have no gradient.
/// </summary>
/// <remarks>
/// Both tensors must have the same dtype: F32, F64, I32, I64 or U8 (nothing is promoted). Any comparison with
/// NaN is false except Ne, which is true.
/// </remarks>
public static partial class Ops
{
    /// <summary>a == b.</summary>
    /// <remarks>PyTorch: torch.eq.</remarks>
    public static Tensor Eq(Tensor a, Tensor b) => CompareForward(CompareOp.Eq, a, b);

    /// <summary>a != b.</summary>
    /// <remarks>PyTorch: torch.ne.</remarks>
    public static Tensor Ne(Tensor a, Tensor b) => CompareForward(CompareOp.Ne, a, b);

    /// <summary>a &lt; b.</summary>
    /// <remarks>PyTorch: torch.lt.</remarks>
    public static Tensor Lt(Tensor a, Tensor b) => CompareForward(CompareOp.Lt, a, b);

    /// <summary>a &lt;= b.</summary>
    /// <remarks>PyTorch: torch.le.</remarks>
    public static Tensor Le(Tensor a, Tensor b) => CompareForward(CompareOp.Le, a, b);

    /// <summary>a &gt; b.</summary>
    /// <remarks>PyTorch: torch.gt.</remarks>
    public static Tensor Gt(Tensor a, Tensor b) => CompareForward(CompareOp.Gt, a, b);

    /// <summary>a &gt;= b.</summary>
    /// <remarks>PyTorch: torch.ge.</remarks>
    public static Tensor Ge(Tensor a, Tensor b) => CompareForward(CompareOp.Ge, a, b);

    /// <summary>a == s.</summary>
    /// <remarks>PyTorch: torch.eq(a, s).</remarks>
    public static Tensor Eq(Tensor a, double s) => CompareScalar(CompareOp.Eq, a, s);

    /// <summary>a != s.</summary>
    /// <remarks>PyTorch: torch.ne(a, s).</remarks>
    public static Tensor Ne(Tensor a, double s) => CompareScalar(CompareOp.Ne, a, s);

    /// <summary>a &lt; s.</summary>
    /// <remarks>PyTorch: torch.lt(a, s).</remarks>
    public static Tensor Lt(Tensor a, double s) => CompareScalar(CompareOp.Lt, a, s);

    /// <summary>a &lt;= s.</summary>
    /// <remarks>PyTorch: torch.le(a, s).</remarks>
    public static Tensor Le(Tensor a, double s) => CompareScalar(CompareOp.Le, a, s);

    /// <summary>a &gt; s.</summary>
    /// <remarks>PyTorch: torch.gt(a, s).</remarks>
    public static Tensor Gt(Tensor a, double s) => CompareScalar(CompareOp.Gt, a, s);

    /// <summary>a &gt;= s.</summary>
    /// <remarks>PyTorch: torch.ge(a, s).</remarks>
    public static Tensor Ge(Tensor a, double s) => CompareScalar(CompareOp.Ge, a, s);

    /// <summary>Compares a and b broadcast to a common shape into a new U8 tensor (no graph).</summary>
    internal static Tensor CompareForward(CompareOp op, Tensor a, Tensor b)
    {
        a.ThrowIfDisposed();
        b.ThrowIfDisposed();
        CheckSameDevice(a, b, op.ToString());
        if (a.DType != b.DType)
            throw new ArgumentException($"{op}: dtypes differ ({a.Shape} {a.DType.Name()} vs {b.Shape} {b.DType.Name()}); cast one with .To(dtype)");
        if (a.DType is DType.F16 or DType.BF16)
            throw new ArgumentException($"{op}: cannot compare {a.DType.Name()} tensors {a.Shape}; cast them to f32 first");
        var shape = Shape.Broadcast(a.Shape, b.Shape);
        var y = Tensor.Empty(shape, DType.U8, a.Device);
        using var ea = ExpandNoGrad(a, shape);
        using var eb = ExpandNoGrad(b, shape);
        a.Backend.Compare(op, ea, eb, y);
        return y;
    }

    private static Tensor CompareScalar(CompareOp op, Tensor a, double s)
    {
        a.ThrowIfDisposed();
        if (!a.DType.IsFloat() && !IsExactIn(a.DType, s))
            throw new ArgumentException($"{op}: the number {s} is not a value of {a.DType.Name()} (tensor {a.Shape}); cast the tensor to a float dtype to compare with it");
        using var t = Tensor.Scalar(s, a.DType, a.Device);
        return CompareForward(op, a, t);
    }

    /// <summary>True when the whole number <paramref name="v"/> fits integer dtype <paramref name="dtype"/>.</summary>
    private static bool IsExactIn(DType dtype, double v) => Math.Floor(v) == v && dtype switch
    {
        DType.U8 => v is >= 0 and <= byte.MaxValue,
        DType.I32 => v is >= int.MinValue and <= int.MaxValue,
        DType.I64 => v is >= long.MinValue and < 9.2233720368547758e18,
        _ => false,
    };
}
