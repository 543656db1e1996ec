namespace PeftEngine.Quant;

/// <summary>
/// Blockwise 4-bit quantization of a weight matrix, as bitsandbytes' <c>quantize_4bit</c> does it (QLoRA, Dettmers
/// et al., arXiv 2305.14314): the (rows, cols) matrix is read row-major as one sequence and cut into blocks of
/// <c>blockSize</c> elements (the last may be shorter); per block
/// <code>absmax = max |w|,   q[i] = nearest index of w[i] · (1 / absmax) in the codebook,   w ≈ code[q[i]] · absmax</code>
/// and two indices are packed per byte, the first in the high nibble. With double quantization the block scales are
/// quantized too (<see cref="DoubleQuantize"/>).
/// </summary>
/// <remarks>bitsandbytes: bnb.functional.quantize_4bit(w, blocksize=64, compress_statistics=..., quant_type="nf4"|"fp4").
/// The scaled value is w times the float32 reciprocal of absmax, as bitsandbytes' kernels compute it.</remarks>
public static class Blockwise4Bit
{
    /// <summary>The block sizes bitsandbytes accepts for 4-bit weights.</summary>
    public static readonly int[] ValidBlockSizes = [32, 64, 128, 256, 512, 1024, 2048, 4096];

    /// <summary>Quantizes a (rows, cols) row-major matrix into a CPU <see cref="PackedWeight4Bit"/>.</summary>
    public static PackedWeight4Bit Quantize(ReadOnlySpan<float> w, int rows, int cols, FourBitType type = FourBitType.Nf4,
        int blockSize = 64, bool doubleQuant = false, int nestedBlockSize = 256)
    {
        if ((long)rows * cols != w.Length)
            throw new ArgumentException($"Blockwise4Bit: {w.Length} values are not a {rows}x{cols} matrix");
        if (Array.IndexOf(ValidBlockSizes, blockSize) < 0)
            throw new ArgumentException($"Blockwise4Bit: block size {blockSize} is not one of {string.Join(", ", ValidBlockSizes)}", nameof(blockSize));
        int blocks = (w.Length + blockSize - 1) / blockSize;
        var absmax = new float[blocks];
        var packed = new byte[(w.Length + 1) / 2];
        for (int b = 0; b < blocks; b++)
        {
            int start = b * blockSize, end = Math.Min(w.Length, start + blockSize);
            float max = 0f;
            for (int i = start; i < end; i++) max = MathF.Max(max, MathF.Abs(w[i]));
            absmax[b] = max;
            float inverse = 1f / max;
            for (int i = start; i < end; i++)
            {
                int q = Codebooks.Nearest(type, w[i] * inverse);
                packed[i >> 1] |= (byte)((i & 1) == 0 ? q << 4 : q);
            }
        }
        var codebook = Tensor.FromArray(Codebooks.For(type));
        var packedTensor = Tensor.FromArray(packed);
        if (!doubleQuant)
            return new PackedWeight4Bit(rows, cols, blockSize, packedTensor, codebook, Tensor.FromArray(absmax));
        var (qAbsmax, nestedAbsmax, offset) = DoubleQuantize(absmax, nestedBlockSize);
        return new PackedWeight4Bit(rows, cols, blockSize, packedTensor, codebook,
            Tensor.FromArray(qAbsmax), Tensor.FromArray(nestedAbsmax), Tensor.FromArray(DynamicMap.Values.ToArray()), nestedBlockSize, offset);
    }

    /// <summary>Quantizes a 2-D weight tensor (F32, BF16 or F16, any layout).</summary>
    public static PackedWeight4Bit Quantize(Tensor weight, FourBitType type = FourBitType.Nf4, int blockSize = 64, bool doubleQuant = false)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 2)
            throw new ArgumentException($"Blockwise4Bit: the weight must be 2-D (out, in), got {weight.Shape}");
        return Quantize(weight.ToFloatArray(), weight.Shape[0], weight.Shape[1], type, blockSize, doubleQuant);
    }

    /// <summary>
    /// Double quantization of the block scales (QLoRA §3): subtract their mean (they are all positive, so centring
    /// makes symmetric 8-bit codes pay off), then quantize blockwise with the dynamic 8-bit map in blocks of
    /// <paramref name="nestedBlockSize"/>. Returns the 8-bit indices, the nested absmax per block and the offset;
    /// <c>absmax ≈ dynamic[q] · nestedAbsmax[b / nestedBlockSize] + offset</c>.
    /// </summary>
    /// <remarks>The mean is summed in double and rounded to float32 (PyTorch sums float32 in its own order, so the
    /// offset may differ from bitsandbytes' in the last bit).</remarks>
    public static (byte[] Indices, float[] NestedAbsmax, float Offset) DoubleQuantize(ReadOnlySpan<float> absmax, int nestedBlockSize = 256)
    {
        double sum = 0;
        foreach (float a in absmax) sum += a;
        float offset = (float)(sum / absmax.Length);
        var centred = new float[absmax.Length];
        for (int i = 0; i < centred.Length; i++) centred[i] = absmax[i] - offset;
        var (indices, nested) = Blockwise8Bit.Quantize(centred, nestedBlockSize);
        return (indices, nested, offset);
    }
}
