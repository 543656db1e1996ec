namespace PeftEngine.IO.Gguf;

/// <summary>The type tag of a GGUF metadata value (numbering from the GGUF spec).</summary>
public enum GgufValueType : uint
{
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
}

/// <summary>A GGUF metadata array: the element type and the elements (boxed CLR values; nested arrays are
/// <see cref="GgufArray"/> again).</summary>
public sealed record GgufArray(GgufValueType ElementType, IReadOnlyList<object> Items);

/// <summary>ggml tensor element types (numbering from ggml.h). Block types pack a block of elements into a
/// fixed number of bytes.</summary>
public enum GgmlType : uint
{
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
    Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
    IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
    I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30, TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
}

/// <summary>Block sizes of the ggml types.</summary>
public static class GgmlTypes
{
    /// <summary>(elements per block, bytes per block) of a type, or null for a type id this reader does not know.</summary>
    public static (int BlockSize, int BlockBytes)? Block(GgmlType t) => t switch
    {
        GgmlType.F32 or GgmlType.I32 => (1, 4),
        GgmlType.F16 or GgmlType.BF16 or GgmlType.I16 => (1, 2),
        GgmlType.F64 or GgmlType.I64 => (1, 8),
        GgmlType.I8 => (1, 1),
        GgmlType.Q4_0 or GgmlType.IQ4_NL => (32, 18),
        GgmlType.Q4_1 => (32, 20),
        GgmlType.Q5_0 => (32, 22),
        GgmlType.Q5_1 => (32, 24),
        GgmlType.Q8_0 => (32, 34),
        GgmlType.Q8_1 => (32, 36),
        GgmlType.Q2_K => (256, 84),
        GgmlType.Q3_K => (256, 110),
        GgmlType.Q4_K => (256, 144),
        GgmlType.Q5_K => (256, 176),
        GgmlType.Q6_K => (256, 210),
        GgmlType.Q8_K => (256, 292),
        GgmlType.IQ2_XXS => (256, 66),
        GgmlType.IQ2_XS => (256, 74),
        GgmlType.IQ3_XXS => (256, 98),
        GgmlType.IQ1_S => (256, 50),
        GgmlType.IQ3_S => (256, 110),
        GgmlType.IQ2_S => (256, 82),
        GgmlType.IQ4_XS => (256, 136),
        GgmlType.IQ1_M => (256, 56),
        GgmlType.TQ1_0 => (256, 54),
        GgmlType.TQ2_0 => (256, 66),
        GgmlType.MXFP4 => (32, 17),
        _ => null,
    };
}

/// <summary>One tensor's entry in a GGUF file.</summary>
/// <param name="Name">The tensor's name ("blk.0.attn_q.weight").</param>
/// <param name="GgufDims">The dimensions as stored: innermost (fastest-varying) first, as ggml's ne[].</param>
/// <param name="Type">The element type.</param>
/// <param name="Offset">Byte offset relative to the start of the data section.</param>
/// <param name="ByteLength">Size of the stored data in bytes.</param>
public sealed record GgufTensorInfo(string Name, long[] GgufDims, GgmlType Type, long Offset, long ByteLength)
{
    /// <summary>The engine (PyTorch) shape: the GGUF dims reversed, outermost first.</summary>
    public int[] Shape => GgufDims.Reverse().Select(d => checked((int)d)).ToArray();

    /// <summary>Number of elements.</summary>
    public long Numel => GgufDims.Aggregate(1L, (a, d) => a * d);
}
