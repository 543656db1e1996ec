namespace PeftEngine.IO.Gguf;

/// <summary>The ggml Q8_0 block format: 32 values share one float16 scale <c>d</c>, each value stored as an int8
/// <c>q</c>; the value is <c>q * d</c>. A block is 34 bytes: 2 bytes of scale then 32 bytes of q.</summary>
/// <remarks>llama.cpp: <c>block_q8_0</c>, <c>quantize_row_q8_0_ref</c>, <c>dequantize_row_q8_0</c>.</remarks>
public static class GgufQuants
{
    /// <summary>Elements per Q8_0 block.</summary>
    public const int Q8_0BlockSize = 32;

    /// <summary>Bytes per Q8_0 block.</summary>
    public const int Q8_0BlockBytes = 34;

    /// <summary>Expands Q8_0 blocks into floats: <c>y[j] = q[j] * d</c>.</summary>
    public static void DequantizeQ8_0(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        if (output.Length % Q8_0BlockSize != 0 || blocks.Length != output.Length / Q8_0BlockSize * Q8_0BlockBytes)
            throw new ArgumentException($"Q8_0: {blocks.Length} bytes do not hold {output.Length} values (34 bytes per 32 values)");
        for (int b = 0; b < output.Length / Q8_0BlockSize; b++)
        {
            var block = blocks.Slice(b * Q8_0BlockBytes, Q8_0BlockBytes);
            float d = (float)BitConverter.UInt16BitsToHalf((ushort)(block[0] | block[1] << 8));
            var y = output.Slice(b * Q8_0BlockSize, Q8_0BlockSize);
            for (int j = 0; j < Q8_0BlockSize; j++) y[j] = (sbyte)block[2 + j] * d;
        }
    }

    /// <summary>Quantises floats to Q8_0 blocks the way ggml does: <c>d = max|x| / 127</c> (stored as float16),
    /// <c>q = round(x / d)</c> with halves rounded away from zero.</summary>
    public static byte[] QuantizeQ8_0(ReadOnlySpan<float> values)
    {
        if (values.Length % Q8_0BlockSize != 0)
            throw new ArgumentException($"Q8_0: {values.Length} values are not a multiple of the block size 32");
        var result = new byte[values.Length / Q8_0BlockSize * Q8_0BlockBytes];
        for (int b = 0; b < values.Length / Q8_0BlockSize; b++)
        {
            var x = values.Slice(b * Q8_0BlockSize, Q8_0BlockSize);
            float amax = 0;
            foreach (float v in x) amax = Math.Max(amax, Math.Abs(v));
            float d = amax / 127f;
            float id = d != 0 ? 1f / d : 0f;
            ushort bits = BitConverter.HalfToUInt16Bits((Half)d);
            int o = b * Q8_0BlockBytes;
            result[o] = (byte)bits;
            result[o + 1] = (byte)(bits >> 8);
            for (int j = 0; j < Q8_0BlockSize; j++)
                result[o + 2 + j] = (byte)(sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
        }
        return result;
    }
}
