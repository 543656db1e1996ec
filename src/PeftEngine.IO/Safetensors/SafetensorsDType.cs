namespace PeftEngine.IO.Safetensors;

/// <summary>The element types a safetensors file can declare that this reader understands.</summary>
/// <remarks>The names are the strings used in the file header ("F32", "BF16", "BOOL"...). The engine has no int8
/// or bool dtype: I8 loads widened to <see cref="DType.I32"/> and BOOL loads as <see cref="DType.U8"/> (0/1).</remarks>
public enum SafetensorsDType
{
    BOOL,
    U8,
    I8,
    F16,
    BF16,
    I32,
    F32,
    F64,
    I64,
}

/// <summary>Facts about <see cref="SafetensorsDType"/> and its mapping to engine dtypes.</summary>
public static class SafetensorsDTypes
{
    /// <summary>Bytes per element as stored in the file.</summary>
    public static int SizeOf(this SafetensorsDType d) => d switch
    {
        SafetensorsDType.BOOL or SafetensorsDType.U8 or SafetensorsDType.I8 => 1,
        SafetensorsDType.F16 or SafetensorsDType.BF16 => 2,
        SafetensorsDType.I32 or SafetensorsDType.F32 => 4,
        _ => 8,
    };

    /// <summary>The header string ("F32").</summary>
    public static string HeaderName(this SafetensorsDType d) => d.ToString();

    /// <summary>Parses a header dtype string; false for a dtype this reader does not know.</summary>
    public static bool TryParse(string s, out SafetensorsDType dtype)
    {
        foreach (var d in Enum.GetValues<SafetensorsDType>())
            if (d.HeaderName() == s) { dtype = d; return true; }
        dtype = default;
        return false;
    }

    /// <summary>The engine dtype a stored dtype loads as (I8 widens to I32, BOOL becomes U8).</summary>
    public static DType ToEngine(this SafetensorsDType d) => d switch
    {
        SafetensorsDType.F32 => DType.F32,
        SafetensorsDType.F64 => DType.F64,
        SafetensorsDType.F16 => DType.F16,
        SafetensorsDType.BF16 => DType.BF16,
        SafetensorsDType.I32 => DType.I32,
        SafetensorsDType.I64 => DType.I64,
        SafetensorsDType.I8 => DType.I32,
        _ => DType.U8,
    };

    /// <summary>The stored dtype an engine dtype is written as.</summary>
    public static SafetensorsDType FromEngine(DType d) => d switch
    {
        DType.F32 => SafetensorsDType.F32,
        DType.F64 => SafetensorsDType.F64,
        DType.F16 => SafetensorsDType.F16,
        DType.BF16 => SafetensorsDType.BF16,
        DType.I32 => SafetensorsDType.I32,
        DType.I64 => SafetensorsDType.I64,
        DType.U8 => SafetensorsDType.U8,
        _ => throw new ArgumentOutOfRangeException(nameof(d), d, "no safetensors dtype for this engine dtype"),
    };

    /// <summary>Order used by the writer: HF safetensors puts larger-alignment dtypes first (its dtype enum order,
    /// descending), then sorts by name. Higher rank is written first.</summary>
    internal static int WriteRank(this SafetensorsDType d) => (int)d;
}
