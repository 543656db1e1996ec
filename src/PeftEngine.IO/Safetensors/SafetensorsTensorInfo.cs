namespace PeftEngine.IO.Safetensors;

/// <summary>One tensor's entry in a safetensors header.</summary>
/// <param name="Name">The tensor's key.</param>
/// <param name="DType">The stored element type.</param>
/// <param name="Shape">The dimensions, outermost first (row-major).</param>
/// <param name="Begin">Start of the bytes, relative to the start of the data section.</param>
/// <param name="End">One past the last byte, relative to the start of the data section.</param>
/// <remarks>PyTorch/HF: the entries <c>safe_open(...).get_slice(name)</c> exposes (dtype, shape, data_offsets).</remarks>
public sealed record SafetensorsTensorInfo(string Name, SafetensorsDType DType, int[] Shape, long Begin, long End)
{
    /// <summary>Number of elements (1 for a scalar).</summary>
    public long Numel => Shape.Aggregate(1L, (a, d) => a * d);

    /// <summary>Number of bytes (End - Begin).</summary>
    public long ByteLength => End - Begin;
}
