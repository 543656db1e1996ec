namespace PeftEngine.Models;

/// <summary>
/// Builds the additive attention mask (B, 1, T, S) a decoder layer adds to its scores from a padding mask
/// (B, S) and an optional sliding window. The causal part is left to the attention kernel (is_causal with the
/// queries aligned to the last T of S positions).
/// </summary>
/// <remarks>HF: <c>_prepare_4d_causal_attention_mask_with_cache_position</c> / masking_utils (padding and
/// sliding-window overlays). One difference: HF masks padded keys for every query and fills masked scores
/// with the dtype's minimum, so a query whose visible keys are all padding (a left-padded prefix) gets a
/// meaningless uniform average. Here such padded queries may see the padded keys instead (real queries never
/// do), which keeps every row finite; the outputs at padded positions are meaningless either way and feed
/// nothing that real positions read.</remarks>
public static class AttentionMasks
{
    /// <summary>
    /// The additive mask (B, 1, T, S) in <paramref name="dtype"/>: 0 where key j is visible to query i (an
    /// absolute position S - T + i) and -inf where it is padding (for a real query) or lies
    /// <paramref name="slidingWindow"/> or more positions back. Null when nothing would be masked beyond causality.
    /// </summary>
    /// <param name="attentionMask">(B, S) of 1 (token) and 0 (padding), U8/I32/I64, or null (no padding).</param>
    /// <param name="batch">B.</param>
    /// <param name="queryLength">T, the new positions.</param>
    /// <param name="keyLength">S, cached plus new positions.</param>
    /// <param name="slidingWindow">W: query i sees keys j with i - j &lt; W (Mistral); null for full attention.</param>
    /// <param name="dtype">The scores' dtype (F32 or F64); a bf16/f16 model's weight dtype gives F32, the dtype
    /// its layers compute in.</param>
    /// <param name="device">Where the mask goes (the model's device); null: the device of
    /// <paramref name="attentionMask"/>, else the CPU.</param>
    public static Tensor? Build(Tensor? attentionMask, int batch, int queryLength, int keyLength, int? slidingWindow, DType dtype, Device? device = null)
    {
        bool[]? real = attentionMask is null ? null : ReadMask(attentionMask, batch, keyLength);
        bool anyPadding = real is not null && real.Any(r => !r);
        bool windowBites = slidingWindow is int w && keyLength > w;
        if (!anyPadding && !windowBites) return null;

        int t = queryLength, s = keyLength, offset = s - t;
        var values = new float[(long)batch * t * s];
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < t; i++)
            {
                int query = offset + i;
                bool queryReal = real is null || real[(long)b * s + query];
                long row = ((long)b * t + i) * s;
                for (int j = 0; j < s; j++)
                {
                    bool hidden = (windowBites && query - j >= slidingWindow!.Value)
                                  || (anyPadding && queryReal && !real![(long)b * s + j]);
                    if (hidden) values[row + j] = float.NegativeInfinity;
                }
            }
        using var host = Tensor.FromArray(values, batch, 1, t, s);   // (B, 1, T, S)
        using var mask = host.To(device ?? attentionMask?.Device ?? Device.Cpu);
        return dtype == DType.F32 || !dtype.IsCompute() ? mask.Alias() : Ops.Cast(mask, dtype);
    }

    /// <summary>Reads a (B, S) 0/1 mask into booleans, checking its shape and values.</summary>
    internal static bool[] ReadMask(Tensor attentionMask, int batch, int keyLength)
    {
        if (attentionMask.Rank != 2 || attentionMask.Shape[0] != batch || attentionMask.Shape[1] != keyLength)
            throw new ArgumentException($"attention mask must be (B = {batch}, S = {keyLength}) covering cached and new positions, got {attentionMask.Shape}");
        if (attentionMask.DType is not (DType.U8 or DType.I32 or DType.I64))
            throw new ArgumentException($"attention mask must be u8, i32 or i64 of 0/1, got {attentionMask.DType.Name()}");
        var v = attentionMask.ToDoubleArray();
        var real = new bool[v.Length];
        for (int i = 0; i < v.Length; i++)
        {
            if (v[i] is not (0 or 1)) throw new ArgumentException($"attention mask holds {v[i]} at flat index {i}; only 0 and 1 are allowed");
            real[i] = v[i] == 1;
        }
        return real;
    }
}
