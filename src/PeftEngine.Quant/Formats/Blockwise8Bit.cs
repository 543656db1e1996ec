namespace PeftEngine.Quant;

/// <summary>
/// Blockwise 8-bit quantization with a 256-entry code (bitsandbytes <c>quantize_blockwise</c>): the values are cut
/// into blocks, each block is divided by its largest magnitude, and each scaled value becomes the index of the
/// nearest code entry. It stores 8-bit optimizer state and, with the dynamic code and blocks of 256, the block
/// scales of 4-bit double quantization.
/// </summary>
/// <remarks>bitsandbytes: bnb.functional.quantize_blockwise / dequantize_blockwise (default code: the signed dynamic
/// map, default blocksize 4096).</remarks>
public static class Blockwise8Bit
{
    /// <summary>Quantizes <paramref name="values"/>: returns the 8-bit indices and one absmax per block.</summary>
    public static (byte[] Indices, float[] Absmax) Quantize(ReadOnlySpan<float> values, int blockSize = 4096, ReadOnlySpan<float> code = default)
    {
        if (blockSize <= 0) throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "the block size must be positive");
        if (code.IsEmpty) code = DynamicMap.Values;
        if (code.Length != 256) throw new ArgumentException($"Blockwise8Bit: the code must have 256 entries, got {code.Length}", nameof(code));
        int blocks = (values.Length + blockSize - 1) / blockSize;
        var indices = new byte[values.Length];
        var absmax = new float[blocks];
        for (int b = 0; b < blocks; b++)
        {
            var block = values.Slice(b * blockSize, Math.Min(blockSize, values.Length - b * blockSize));
            float max = 0f;
            foreach (float v in block) max = MathF.Max(max, MathF.Abs(v));
            absmax[b] = max;
            float inverse = 1f / max;
            for (int i = 0; i < block.Length; i++)
                indices[b * blockSize + i] = (byte)DynamicMap.Nearest(code, block[i] * inverse);
        }
        return (indices, absmax);
    }

    /// <summary>value[i] = code[indices[i]] · absmax[i / blockSize].</summary>
    public static float[] Dequantize(ReadOnlySpan<byte> indices, ReadOnlySpan<float> absmax, int blockSize = 4096, ReadOnlySpan<float> code = default)
    {
        if (code.IsEmpty) code = DynamicMap.Values;
        if (absmax.Length != (indices.Length + blockSize - 1) / blockSize)
            throw new ArgumentException($"Blockwise8Bit: {indices.Length} values in blocks of {blockSize} need {(indices.Length + blockSize - 1) / blockSize} absmax values, got {absmax.Length}");
        var values = new float[indices.Length];
        for (int i = 0; i < values.Length; i++) values[i] = code[indices[i]] * absmax[i / blockSize];
        return values;
    }
}
