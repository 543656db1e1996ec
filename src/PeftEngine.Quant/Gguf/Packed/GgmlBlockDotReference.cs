using PeftEngine.IO.Gguf;

namespace PeftEngine.Quant;

/// <summary>
/// The definition of a dot product between one packed ggml weight row and one row of int8 activation blocks, in
/// plain scalar code: exact integer sums inside each block, the block's float scales applied once per block, and
/// the block results added in order in F32.
/// <code>
/// Q8_0: Σ_b (d_w · d_a) · Σ_i w_i · q_i
/// Q4_0: Σ_b (d_w · d_a) · Σ_i (n_i − 8) · q_i               (n = 4-bit code)
/// Q4_K: Σ_B (d · d_a) · Σ_s sc_s · Σ_i n_i · q_i  −  (dmin · d_a) · Σ_s m_s · Σ_i q_i   (s = 8 sub-blocks of 32)
/// </code>
/// The fast kernels (<see cref="GgmlBlockDot"/>) compute the same integers and differ only in the order the F32
/// block results are added.
/// </summary>
/// <remarks>llama.cpp: ggml_vec_dot_q8_0_q8_0, ggml_vec_dot_q4_0_q8_0, ggml_vec_dot_q4_K_q8_K (their generic C versions).</remarks>
public static class GgmlBlockDotReference
{
    /// <summary>Dot product of weight row <paramref name="row"/> of <paramref name="w"/> with activation row
    /// <paramref name="arow"/> of <paramref name="a"/>.</summary>
    public static float Dot(GgmlPackedWeight w, int row, ActivationBlocks a, int arow)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(a);
        if (a.Cols != w.Cols || a.ScaleBlock != ActivationBlocks.ScaleBlockFor(w.Type))
            throw new ArgumentException($"GgmlBlockDotReference: activations ({a.Rows}, {a.Cols}) in blocks of {a.ScaleBlock} do not fit a {w.Type} weight with {w.Cols} columns");
        var blocks = w.RowBlocks(row);
        var q = a.Codes.AsSpan(arow * a.Cols, a.Cols);
        var scales = a.Scales.AsSpan(arow * a.Cols / a.ScaleBlock, a.Cols / a.ScaleBlock);
        var sums = a.Sums.AsSpan(arow * a.Cols / ActivationBlocks.SumBlock, a.Cols / ActivationBlocks.SumBlock);
        float total = 0;
        int nb = w.Cols / w.BlockSize;
        for (int b = 0; b < nb; b++)
        {
            var blk = blocks.Slice(b * w.BlockBytes, w.BlockBytes);
            var qb = q.Slice(b * w.BlockSize, w.BlockSize);
            switch (w.Type)
            {
                case GgmlType.Q8_0:
                {
                    int isum = 0;
                    for (int i = 0; i < 32; i++) isum += (sbyte)blk[2 + i] * qb[i];
                    total += isum * (HalfTable.Get(blk, 0) * scales[b]);
                    break;
                }
                case GgmlType.Q4_0:
                {
                    int isum = 0;
                    for (int j = 0; j < 16; j++)
                        isum += ((blk[2 + j] & 0xF) - 8) * qb[j] + ((blk[2 + j] >> 4) - 8) * qb[j + 16];
                    total += isum * (HalfTable.Get(blk, 0) * scales[b]);
                    break;
                }
                case GgmlType.Q4_K:
                {
                    int isum = 0, msum = 0;
                    for (int chunk = 0; chunk < 4; chunk++)
                    {
                        var (sc1, m1) = GgmlKQuants.ScaleMin(2 * chunk, blk.Slice(4, 12));
                        var (sc2, m2) = GgmlKQuants.ScaleMin(2 * chunk + 1, blk.Slice(4, 12));
                        int lo = 0, hi = 0;
                        for (int l = 0; l < 32; l++)
                        {
                            lo += (blk[16 + 32 * chunk + l] & 0xF) * qb[64 * chunk + l];
                            hi += (blk[16 + 32 * chunk + l] >> 4) * qb[64 * chunk + 32 + l];
                        }
                        isum += sc1 * lo + sc2 * hi;
                        msum += m1 * sums[b * 8 + 2 * chunk] + m2 * sums[b * 8 + 2 * chunk + 1];
                    }
                    total += isum * (HalfTable.Get(blk, 0) * scales[b]) - msum * (HalfTable.Get(blk, 2) * scales[b]);
                    break;
                }
                default:
                    throw new NotSupportedException($"GgmlBlockDotReference: {w.Type} is not a packable type");
            }
        }
        return total;
    }
}
