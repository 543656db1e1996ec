namespace PeftEngine.Quant;

/// <summary>
/// Turns one GPTQ-quantized Linear (in = K, out = N, b bits, G groups) back into a float32 weight. The stored tensors:
/// <list type="bullet">
/// <item><c>qweight</c> int32 (K·b/32, N), packed along the input dimension: slot j of word [r, n] (bits b·j …) is
/// q[r·32/b + j, n];</item>
/// <item><c>qzeros</c> int32 (G, N·b/32), packed along the output dimension: slot j of word [g, c] is the zero of
/// column c·32/b + j; v1 checkpoints (checkpoint_format "gptq") store zero − 1, "gptq_v2" the zero itself;</item>
/// <item><c>scales</c> float16 (G, N);</item>
/// <item><c>g_idx</c> int32 (K), optional: the group of each input (k / group_size unless act-order permuted them).</item>
/// </list>
/// <c>W[k, n] = scales[g_idx[k], n] · (q[k, n] − zero[g_idx[k], n])</c>. 2-, 4- and 8-bit packings are read; 3-bit
/// (values straddling word boundaries) is refused.
/// </summary>
/// <remarks>AutoGPTQ: QuantLinear.pack / the dequantization in qlinear_cuda_old; transformers loads these through
/// optimum with quant_method "gptq".</remarks>
public static class GptqDequantizer
{
    /// <summary>The input features a <c>qweight</c> of <paramref name="packedRows"/> rows holds, after checking
    /// <paramref name="bits"/> (2, 4 or 8). <paramref name="key"/> names the tensor in messages.</summary>
    public static int InFeatures(int packedRows, int bits, string key)
    {
        if (bits == 3)
            throw new InvalidDataException($"GPTQ: '{key}' is 3-bit; the 3-bit packing (32 values spread over 3 words) is not supported (2, 4 or 8 bits are)");
        if (bits is not (2 or 4 or 8))
            throw new InvalidDataException($"GPTQ: '{key}' declares {bits} bits; supported widths are 2, 4 and 8");
        return checked(packedRows * (32 / bits));
    }

    /// <summary>
    /// Dequantizes the module <paramref name="name"/> (keys <c>name.qweight</c> etc. in messages) into a float32
    /// weight of <paramref name="layout"/>. <paramref name="gIdx"/> may be null (groups are then k / group_size).
    /// </summary>
    public static Tensor Dequantize(string name, Tensor qweight, Tensor qzeros, Tensor scales, Tensor? gIdx,
        GptqAwqConfig config, DequantizedLayout layout = DequantizedLayout.OutIn)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(qweight);
        ArgumentNullException.ThrowIfNull(qzeros);
        ArgumentNullException.ThrowIfNull(scales);
        ArgumentNullException.ThrowIfNull(config);
        const string format = "GPTQ";
        int bits = config.Bits;
        if (qweight.Rank != 2)
            throw new InvalidDataException($"{format}: '{name}.qweight' has shape {qweight.Shape}, expected 2-D (in_features·bits/32, out_features)");
        int packedRows = qweight.Shape[0], n = qweight.Shape[1];
        int k = InFeatures(packedRows, bits, name + ".qweight");
        int per = 32 / bits;
        int g = PackedIntWords.GroupSize(config.GroupSize, k, name, format);
        int groups = k / g;
        if (n % per != 0)
            throw new InvalidDataException($"{format}: '{name}.qweight' has {n} output columns, which {bits}-bit qzeros cannot pack ({per} per word)");

        var words = PackedIntWords.Words(qweight, name + ".qweight", format, packedRows, n, "(in_features·bits/32, out_features)");
        var zeroWords = PackedIntWords.Words(qzeros, name + ".qzeros", format, groups, n / per, "(in_features/group_size, out_features·bits/32)");
        var s = PackedIntWords.Scales(scales, name + ".scales", format, groups, n);
        var groupOfInput = GroupIndex(gIdx, name + ".g_idx", k, g, groups);
        Span<int> identity = stackalloc int[per];
        for (int i = 0; i < per; i++) identity[i] = i;
        var zeros = PackedIntWords.Zeros(zeroWords, groups, n, bits, identity, config.ZerosStoredMinusOne ? 1 : 0);

        return PackedIntWords.Assemble(k, n, groupOfInput, s, zeros, (row, q) =>
        {
            int r = row / per, slot = row % per;   // input k sits in slot k % per of packed row k / per
            var packed = words.AsSpan(r * n, n);
            for (int col = 0; col < n; col++) q[col] = PackedIntWords.Get(packed[col], slot, bits);
        }, layout);
    }

    /// <summary>The group of each input: <paramref name="gIdx"/> checked (length K, values in [0, G)), or k / g.</summary>
    private static int[] GroupIndex(Tensor? gIdx, string key, int k, int g, int groups)
    {
        if (gIdx is null) return Enumerable.Range(0, k).Select(i => i / g).ToArray();
        if (gIdx.DType is not (DType.I32 or DType.I64) || gIdx.Rank != 1 || gIdx.Shape[0] != k)
            throw new InvalidDataException($"GPTQ: '{key}' must be an int32 vector of in_features = {k} entries, got {gIdx.DType.Name()} {gIdx.Shape}");
        var idx = gIdx.DType == DType.I32 ? gIdx.ToArray<int>() : gIdx.ToArray<long>().Select(v => (int)Math.Clamp(v, -1, int.MaxValue)).ToArray();
        for (int i = 0; i < k; i++)
            if ((uint)idx[i] >= (uint)groups)
                throw new InvalidDataException($"GPTQ: '{key}'[{i}] = {idx[i]} is not a group index (the scales have {groups} groups)");
        return idx;
    }
}
