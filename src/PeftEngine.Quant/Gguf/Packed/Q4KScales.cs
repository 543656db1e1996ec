namespace PeftEngine.Quant;

/// <summary>
/// Unpacks the twelve scale bytes of a Q4_K superblock into its eight 6-bit sub-block scales and eight 6-bit mins,
/// all at once with word-wide masks and shifts instead of one sub-block at a time. With the bytes read as three
/// little-endian words u0 (bytes 0–3), u1 (4–7), u2 (8–11), byte k of each result word is:
/// <code>
/// scales 0..3 = u0 &amp; 0x3F                        mins 0..3 = u1 &amp; 0x3F
/// scales 4..7 = (u2 &amp; 0x0F) | (u0 >> 6) &lt;&lt; 4        mins 4..7 = (u2 >> 4) | (u1 >> 6) &lt;&lt; 4
/// </code>
/// which is ggml's get_scale_min_k4 for j = 0..7 (scale j in byte j of <c>scales</c>, min j in byte j of <c>mins</c>).
/// </summary>
/// <remarks>llama.cpp: the kmask1/kmask2/kmask3 shuffle at the top of ggml_vec_dot_q4_K_q8_K.</remarks>
internal static unsafe class Q4KScales
{
    private const uint Low6 = 0x3F3F3F3F, Low4 = 0x0F0F0F0F, Low2 = 0x03030303;

    /// <summary>Scales and mins of the superblock whose scale bytes start at <paramref name="packed"/>, one per byte.</summary>
    public static void Unpack(byte* packed, out ulong scales, out ulong mins)
    {
        uint u0 = *(uint*)packed, u1 = *(uint*)(packed + 4), u2 = *(uint*)(packed + 8);
        uint scLow = u0 & Low6, mnLow = u1 & Low6;
        uint scHigh = (u2 & Low4) | (((u0 >> 6) & Low2) << 4);
        uint mnHigh = ((u2 >> 4) & Low4) | (((u1 >> 6) & Low2) << 4);
        scales = scLow | ((ulong)scHigh << 32);
        mins = mnLow | ((ulong)mnHigh << 32);
    }
}
