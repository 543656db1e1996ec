using System.Buffers.Binary;

namespace PeftEngine.Quant;

/// <summary>
/// ggml's "K-quants": super-blocks of 256 elements cut into sub-blocks of 16 or 32, each sub-block with its own small
/// integer scale (and for Q2_K/Q4_K/Q5_K a minimum) that multiplies the super-block's float16 d (and dmin):
/// <code>y = d · scale_s · q − dmin · min_s</code> (Q2_K, Q4_K, Q5_K),  <code>y = d · (scale_s − 32) · q'</code> (Q3_K),
/// <code>y = d · scale_s · (q − 32)</code> (Q6_K, 8-bit signed scales).
/// The bit layouts (how the 2, 3, 4, 5 or 6 bits of q and the 4, 6 or 8 bits of each scale are spread over the
/// block) follow llama.cpp exactly; each method below spells out its block.
/// </summary>
/// <remarks>llama.cpp: ggml-quants.c dequantize_row_q2_K … dequantize_row_q6_K; gguf-py quants.py.</remarks>
public static class GgmlKQuants
{
    private const int Super = 256;

    private static float Half(ReadOnlySpan<byte> b, int at) => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(b[at..]));

    /// <summary>Q2_K (84 bytes: scales[16] (low nibble scale, high nibble min), qs[64] (2-bit), d, dmin).</summary>
    public static void DequantizeQ2_K(ReadOnlySpan<byte> blocks, Span<float> y) => GgmlLegacyBlocks.ForEachBlock(blocks, y, 84, (b, o) =>
    {
        var scales = b[..16];
        float d = Half(b, 80), dmin = Half(b, 82);
        int at = 0, s = 0;
        for (int half = 0; half < 2; half++)         // two halves of 128, each reading 32 bytes of qs
        {
            var q = b.Slice(16 + 32 * half, 32);
            for (int shift = 0; shift < 8; shift += 2)
                for (int part = 0; part < 2; part++)   // 16 elements from q[0..16], then 16 from q[16..32]
                {
                    byte sc = scales[s++];
                    float dl = d * (sc & 0xF), ml = dmin * (sc >> 4);
                    for (int l = 0; l < 16; l++) o[at++] = dl * ((q[16 * part + l] >> shift) & 3) - ml;
                }
        }
    }, Super);

    /// <summary>Q3_K (110 bytes: hmask[32] (third bit, inverted: set means no −4), qs[64] (low 2 bits), scales[12]
    /// (16 6-bit scales), d).</summary>
    public static void DequantizeQ3_K(ReadOnlySpan<byte> blocks, Span<float> y) => GgmlLegacyBlocks.ForEachBlock(blocks, y, 110, (b, o) =>
    {
        var hmask = b[..32];
        float d = Half(b, 108);
        Span<sbyte> scales = stackalloc sbyte[16];
        UnpackQ3Scales(b.Slice(96, 12), scales);
        int at = 0, s = 0, m = 1;
        for (int half = 0; half < 2; half++)
        {
            var q = b.Slice(32 + 32 * half, 32);
            for (int shift = 0; shift < 8; shift += 2, m <<= 1)
                for (int part = 0; part < 2; part++)
                {
                    float dl = d * (scales[s++] - 32);
                    for (int l = 0; l < 16; l++)
                    {
                        int k = 16 * part + l;
                        o[at++] = dl * (((q[k] >> shift) & 3) - ((hmask[k] & m) != 0 ? 0 : 4));
                    }
                }
        }
    }, Super);

    /// <summary>The 16 6-bit Q3_K scales: the low 4 bits of scale i are nibbles of bytes 0..7 (i &lt; 8: low nibble of
    /// byte i; else high nibble of byte i−8), the top 2 bits come two at a time from bytes 8..11.</summary>
    private static void UnpackQ3Scales(ReadOnlySpan<byte> packed, Span<sbyte> scales)
    {
        for (int i = 0; i < 16; i++)
        {
            int low = i < 8 ? packed[i] & 0xF : packed[i - 8] >> 4;
            int high = (packed[8 + (i % 4)] >> (2 * (i / 4))) & 3;
            scales[i] = (sbyte)(low | (high << 4));
        }
    }

    /// <summary>Scale and min j (0..7) of a Q4_K/Q5_K block, 6 bits each, packed into 12 bytes.</summary>
    internal static (int Scale, int Min) ScaleMin(int j, ReadOnlySpan<byte> s) => j < 4
        ? (s[j] & 63, s[j + 4] & 63)
        : ((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4));

    /// <summary>Q4_K (144 bytes: d, dmin, scales[12], qs[128]); 8 sub-blocks of 32, low nibbles first.</summary>
    public static void DequantizeQ4_K(ReadOnlySpan<byte> blocks, Span<float> y) => GgmlLegacyBlocks.ForEachBlock(blocks, y, 144, (b, o) =>
    {
        float d = Half(b, 0), dmin = Half(b, 2);
        var scales = b.Slice(4, 12);
        int at = 0;
        for (int chunk = 0; chunk < 4; chunk++)        // 64 elements from 32 bytes
        {
            var q = b.Slice(16 + 32 * chunk, 32);
            var (sc1, m1) = ScaleMin(2 * chunk, scales);
            var (sc2, m2) = ScaleMin(2 * chunk + 1, scales);
            for (int l = 0; l < 32; l++) o[at++] = d * sc1 * (q[l] & 0xF) - dmin * m1;
            for (int l = 0; l < 32; l++) o[at++] = d * sc2 * (q[l] >> 4) - dmin * m2;
        }
    }, Super);

    /// <summary>Q5_K (176 bytes: d, dmin, scales[12], qh[32], qs[128]); as Q4_K plus a fifth bit from qh.</summary>
    public static void DequantizeQ5_K(ReadOnlySpan<byte> blocks, Span<float> y) => GgmlLegacyBlocks.ForEachBlock(blocks, y, 176, (b, o) =>
    {
        float d = Half(b, 0), dmin = Half(b, 2);
        var scales = b.Slice(4, 12);
        var qh = b.Slice(16, 32);
        int at = 0;
        for (int chunk = 0; chunk < 4; chunk++)
        {
            var q = b.Slice(48 + 32 * chunk, 32);
            int u1 = 1 << (2 * chunk), u2 = 2 << (2 * chunk);
            var (sc1, m1) = ScaleMin(2 * chunk, scales);
            var (sc2, m2) = ScaleMin(2 * chunk + 1, scales);
            for (int l = 0; l < 32; l++) o[at++] = d * sc1 * ((q[l] & 0xF) + ((qh[l] & u1) != 0 ? 16 : 0)) - dmin * m1;
            for (int l = 0; l < 32; l++) o[at++] = d * sc2 * ((q[l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0)) - dmin * m2;
        }
    }, Super);

    /// <summary>Q6_K (210 bytes: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] (int8), d); 16 sub-blocks of 16.</summary>
    public static void DequantizeQ6_K(ReadOnlySpan<byte> blocks, Span<float> y) => GgmlLegacyBlocks.ForEachBlock(blocks, y, 210, (b, o) =>
    {
        float d = Half(b, 208);
        for (int half = 0; half < 2; half++)
        {
            var ql = b.Slice(64 * half, 64);
            var qh = b.Slice(128 + 32 * half, 32);
            var sc = b.Slice(192 + 8 * half, 8);
            var dst = o.Slice(128 * half, 128);
            for (int l = 0; l < 32; l++)
            {
                int s = l / 16;
                int q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                dst[l] = d * (sbyte)sc[s] * q1;
                dst[l + 32] = d * (sbyte)sc[s + 2] * q2;
                dst[l + 64] = d * (sbyte)sc[s + 4] * q3;
                dst[l + 96] = d * (sbyte)sc[s + 6] * q4;
            }
        }
    }, Super);
}
