using System.Buffers.Binary;

namespace PeftEngine.Quant;

/// <summary>
/// The 32-element block formats of ggml (llama.cpp's GGUF files): each block has one float16 scale d (and for the
/// "_1" types a float16 offset m) and 32 small integers. Elements j and j+16 of a block share byte j: the low
/// nibble holds element j, the high nibble element j+16. For the 5-bit types the fifth bits come from a 32-bit
/// mask qh (bit j for element j, bit j+16 for element j+16).
/// <code>
/// Q4_0:   y = (q − 8) · d          Q4_1: y = q · d + m
/// Q5_0:   y = (q − 16) · d         Q5_1: y = q · d + m
/// IQ4_NL: y = d · kvalues[q]  (a fixed non-linear 16-value table); Q8_0 (y = q · d) is read by IO's GgufQuants.
/// </code>
/// </summary>
/// <remarks>llama.cpp: ggml-quants.c dequantize_row_q4_0 … dequantize_row_iq4_nl; gguf-py quants.py.</remarks>
public static class GgmlLegacyBlocks
{
    private const int Block = 32;

    /// <summary>The IQ4_NL value table (int8 levels, scaled by d).</summary>
    private static ReadOnlySpan<sbyte> Iq4NlValues => [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

    private static float Half(ReadOnlySpan<byte> b, int at) => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(b[at..]));

    /// <summary>Q4_0 (18 bytes: d, qs[16]).</summary>
    public static void DequantizeQ4_0(ReadOnlySpan<byte> blocks, Span<float> y) => ForEachBlock(blocks, y, 18, (b, o) =>
    {
        float d = Half(b, 0);
        for (int j = 0; j < 16; j++)
        {
            o[j] = ((b[2 + j] & 0xF) - 8) * d;
            o[j + 16] = ((b[2 + j] >> 4) - 8) * d;
        }
    });

    /// <summary>Quantizes values to Q4_0 blocks as ggml's reference quantizer does: d = (the value of largest magnitude,
    /// with its sign) / −8, stored as float16; q = min(15, trunc(x / d + 8.5)), so that extreme value lands on code 0.</summary>
    /// <remarks>llama.cpp: quantize_row_q4_0_ref.</remarks>
    public static byte[] QuantizeQ4_0(ReadOnlySpan<float> values)
    {
        if (values.Length % Block != 0)
            throw new ArgumentException($"Q4_0: {values.Length} values are not a multiple of the block size 32");
        var result = new byte[values.Length / Block * 18];
        for (int b = 0; b < values.Length / Block; b++)
        {
            var x = values.Slice(b * Block, Block);
            float amax = 0, max = 0;
            foreach (float v in x)
                if (MathF.Abs(v) > amax) { amax = MathF.Abs(v); max = v; }
            float d = max / -8f;
            float id = d != 0 ? 1f / d : 0f;
            BinaryPrimitives.WriteUInt16LittleEndian(result.AsSpan(b * 18), BitConverter.HalfToUInt16Bits((Half)d));
            for (int j = 0; j < 16; j++)
            {
                int lo = Math.Min(15, (int)(sbyte)(x[j] * id + 8.5f));
                int hi = Math.Min(15, (int)(sbyte)(x[j + 16] * id + 8.5f));
                result[b * 18 + 2 + j] = (byte)(lo | (hi << 4));
            }
        }
        return result;
    }

    /// <summary>Q4_1 (20 bytes: d, m, qs[16]).</summary>
    public static void DequantizeQ4_1(ReadOnlySpan<byte> blocks, Span<float> y) => ForEachBlock(blocks, y, 20, (b, o) =>
    {
        float d = Half(b, 0), m = Half(b, 2);
        for (int j = 0; j < 16; j++)
        {
            o[j] = (b[4 + j] & 0xF) * d + m;
            o[j + 16] = (b[4 + j] >> 4) * d + m;
        }
    });

    /// <summary>Q5_0 (22 bytes: d, qh[4], qs[16]).</summary>
    public static void DequantizeQ5_0(ReadOnlySpan<byte> blocks, Span<float> y) => ForEachBlock(blocks, y, 22, (b, o) =>
    {
        float d = Half(b, 0);
        uint qh = BinaryPrimitives.ReadUInt32LittleEndian(b[2..]);
        for (int j = 0; j < 16; j++)
        {
            int lo = (b[6 + j] & 0xF) | (int)(((qh >> j) & 1) << 4);
            int hi = (b[6 + j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            o[j] = (lo - 16) * d;
            o[j + 16] = (hi - 16) * d;
        }
    });

    /// <summary>Q5_1 (24 bytes: d, m, qh[4], qs[16]).</summary>
    public static void DequantizeQ5_1(ReadOnlySpan<byte> blocks, Span<float> y) => ForEachBlock(blocks, y, 24, (b, o) =>
    {
        float d = Half(b, 0), m = Half(b, 2);
        uint qh = BinaryPrimitives.ReadUInt32LittleEndian(b[4..]);
        for (int j = 0; j < 16; j++)
        {
            int lo = (b[8 + j] & 0xF) | (int)(((qh >> j) & 1) << 4);
            int hi = (b[8 + j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            o[j] = lo * d + m;
            o[j + 16] = hi * d + m;
        }
    });

    /// <summary>IQ4_NL (18 bytes: d, qs[16]), nibbles laid out as Q4_0.</summary>
    public static void DequantizeIq4Nl(ReadOnlySpan<byte> blocks, Span<float> y) => ForEachBlock(blocks, y, 18, (b, o) =>
    {
        float d = Half(b, 0);
        for (int j = 0; j < 16; j++)
        {
            o[j] = d * Iq4NlValues[b[2 + j] & 0xF];
            o[j + 16] = d * Iq4NlValues[b[2 + j] >> 4];
        }
    });

    internal delegate void BlockAction(ReadOnlySpan<byte> block, Span<float> output);

    /// <summary>Checks sizes and runs <paramref name="action"/> on each block of <paramref name="blockBytes"/> bytes.</summary>
    internal static void ForEachBlock(ReadOnlySpan<byte> blocks, Span<float> y, int blockBytes, BlockAction action, int blockSize = Block)
    {
        if (y.Length % blockSize != 0 || blocks.Length != (long)y.Length / blockSize * blockBytes)
            throw new ArgumentException($"ggml blocks: {blocks.Length} bytes do not hold {y.Length} values ({blockBytes} bytes per {blockSize} values)");
        for (int i = 0; i < y.Length / blockSize; i++)
            action(blocks.Slice(i * blockBytes, blockBytes), y.Slice(i * blockSize, blockSize));
    }
}
