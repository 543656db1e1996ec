namespace PeftEngine;

/// <summary>
/// Additive attention masks: 0 where a query may attend to a key and -infinity where it may not, to be added
/// to the attention scores before the softmax.
/// </summary>
public static partial class Ops
{
    /// <summary>
    /// A (T, S) mask that lets query i see keys 0 .. i + (S - T): the queries are the last T of S positions
    /// (S = T without a cache; S = cached + T with one).
    /// </summary>
    /// <remarks>PyTorch: the is_causal mask of scaled_dot_product_attention, as an additive float mask;
    /// HF: _make_causal_mask with past_key_values_length = S - T.</remarks>
    public static Tensor CausalMask(int queryLength, int? keyLength = null, DType dtype = DType.F32, Device? device = null)
    {
        int t = queryLength, s = keyLength ?? queryLength;
        if (t < 0 || s < t)
            throw new ArgumentException($"CausalMask: need 0 <= queries ({t}) <= keys ({s}); otherwise some query would see no key");
        if (!dtype.IsCompute()) throw new ArgumentException($"CausalMask: mask dtype must be f32 or f64, not {dtype.Name()}");
        var values = new double[(long)t * s];
        for (int i = 0; i < t; i++)
            for (int j = i + (s - t) + 1; j < s; j++)
                values[(long)i * s + j] = double.NegativeInfinity;
        return MaskTensor(values, [t, s], dtype, device ?? Device.Cpu);
    }

    /// <summary>
    /// Turns an attention mask (B, S) of 1 (a real token) and 0 (padding), as U8, I32 or I64, into an additive
    /// (B, 1, 1, S) mask that broadcasts over heads and queries.
    /// </summary>
    /// <remarks>HF: the attention_mask argument of the models, expanded by _prepare_4d_attention_mask (which
    /// uses the dtype's minimum where this uses -infinity).</remarks>
    public static Tensor PaddingMask(Tensor attentionMask, DType dtype = DType.F32)
    {
        attentionMask.ThrowIfDisposed();
        if (attentionMask.Rank != 2)
            throw new ArgumentException($"PaddingMask: attention mask must be (B, S), got {attentionMask.Shape}");
        if (attentionMask.DType is not (DType.U8 or DType.I32 or DType.I64))
            throw new ArgumentException($"PaddingMask: attention mask must be u8, i32 or i64 (1 = token, 0 = padding), got {attentionMask.DType.Name()}");
        if (!dtype.IsCompute()) throw new ArgumentException($"PaddingMask: mask dtype must be f32 or f64, not {dtype.Name()}");
        var values = attentionMask.ToDoubleArray();
        for (long i = 0; i < values.Length; i++) values[i] = values[i] != 0 ? 0 : double.NegativeInfinity;
        int b = attentionMask.Shape[0], s = attentionMask.Shape[1];
        return MaskTensor(values, [b, 1, 1, s], dtype, attentionMask.Device);   // (B, S) -> (B, 1, 1, S)
    }

    private static Tensor MaskTensor(double[] values, int[] shape, DType dtype, Device device)
    {
        using var t = Tensor.FromArray(values, shape);
        using var cast = dtype == DType.F64 ? t.Alias() : Cast(t, dtype);
        return ToDevice(cast, device);
    }
}
