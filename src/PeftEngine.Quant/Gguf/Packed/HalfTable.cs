using System.Buffers.Binary;

namespace PeftEngine.Quant;

/// <summary>All 65,536 float16 bit patterns as F32 (256 KB), so the block kernels read a block scale with one load
/// instead of a software half-to-float conversion.</summary>
/// <remarks>llama.cpp: ggml_table_f32_f16.</remarks>
internal static class HalfTable
{
    internal static readonly float[] Values = Build();

    private static float[] Build()
    {
        var t = new float[65536];
        for (int i = 0; i < t.Length; i++) t[i] = (float)BitConverter.UInt16BitsToHalf((ushort)i);
        return t;
    }

    /// <summary>The float16 stored little-endian at <paramref name="at"/> of <paramref name="b"/>, as F32.</summary>
    internal static float Get(ReadOnlySpan<byte> b, int at) => Values[BinaryPrimitives.ReadUInt16LittleEndian(b[at..])];
}
