namespace PeftEngine;

/// <summary>The element type of a tensor. Nothing converts silently: mixing dtypes is an error.</summary>
/// <remarks>PyTorch: torch.dtype. F32 and F64 are compute types; F16 and BF16 are storage types that kernels
/// widen to F32; I32/I64 hold indices; U8 holds bytes and packed 4-bit data.</remarks>
public enum DType
{
    F32,
    F64,
    F16,
    BF16,
    I32,
    I64,
    U8,
}

/// <summary>Facts about each <see cref="DType"/>.</summary>
public static class DTypes
{
    /// <summary>Bytes per element.</summary>
    public static int SizeOf(this DType dtype) => dtype switch
    {
        DType.F32 => 4,
        DType.F64 => 8,
        DType.F16 => 2,
        DType.BF16 => 2,
        DType.I32 => 4,
        DType.I64 => 8,
        DType.U8 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    /// <summary>True for the floating-point types (F32, F64, F16, BF16).</summary>
    public static bool IsFloat(this DType dtype) => dtype is DType.F32 or DType.F64 or DType.F16 or DType.BF16;

    /// <summary>True for the types kernels compute in directly (F32, F64).</summary>
    public static bool IsCompute(this DType dtype) => dtype is DType.F32 or DType.F64;

    /// <summary>The lower-case name used in messages and files ("f32", "bf16").</summary>
    public static string Name(this DType dtype) => dtype.ToString().ToLowerInvariant();

    /// <summary>The dtype of a CLR element type.</summary>
    public static DType Of<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return DType.F32;
        if (typeof(T) == typeof(double)) return DType.F64;
        if (typeof(T) == typeof(Half)) return DType.F16;
        if (typeof(T) == typeof(BFloat16)) return DType.BF16;
        if (typeof(T) == typeof(int)) return DType.I32;
        if (typeof(T) == typeof(long)) return DType.I64;
        if (typeof(T) == typeof(byte)) return DType.U8;
        throw new NotSupportedException($"no dtype for CLR type {typeof(T).Name}");
    }

    /// <summary>Throws unless <paramref name="t"/> has a compute dtype (F32 or F64).</summary>
    public static void RequireCompute(Tensor t, string op)
    {
        if (!t.DType.IsCompute())
            throw new ArgumentException($"{op}: expected an f32 or f64 tensor, got {t.DType.Name()} {t.Shape}; cast it first with .To(DType.F32)");
    }
}
