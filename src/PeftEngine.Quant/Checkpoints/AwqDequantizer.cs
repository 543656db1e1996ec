namespace PeftEngine.Quant;

/// <summary>
/// Turns one AWQ GEMM-packed Linear (in = K, out = N, 4 bits, group g) back into a float32 weight. The stored tensors:
/// <list type="bullet">
/// <item><c>qweight</c> int32 (K, N/8), packed along the output dimension with an interleave: nibble i of word
/// [k, c] is q[k, 8c + ORDER[i]], ORDER = [0, 2, 4, 6, 1, 3, 5, 7];</item>
/// <item><c>qzeros</c> int32 (K/g, N/8), the same interleave, true zeros (no offset);</item>
/// <item><c>scales</c> float16 (K/g, N).</item>
/// </list>
/// <c>W[k, n] = scales[k / g, n] · (q[k, n] − zero[k / g, n])</c>.
/// </summary>
/// <remarks>AutoAWQ: WQLinear_GEMM.from_linear and awq/utils/packing_utils (dequantize_gemm); transformers loads
/// these with quant_method "awq", version "gemm".</remarks>
public static class AwqDequantizer
{
    /// <summary>Nibble i of a word holds column 8c + Order[i].</summary>
    public static ReadOnlySpan<int> Order => [0, 2, 4, 6, 1, 3, 5, 7];

    /// <summary>The output features a <c>qweight</c> of <paramref name="packedCols"/> columns holds, after checking
    /// that <paramref name="bits"/> is 4. <paramref name="key"/> names the tensor in messages.</summary>
    public static int OutFeatures(int packedCols, int bits, string key)
    {
        if (bits != 4)
            throw new InvalidDataException($"AWQ: '{key}' declares {bits} bits; only 4-bit GEMM checkpoints are supported");
        return checked(packedCols * 8);
    }

    /// <summary>Dequantizes the module <paramref name="name"/> (keys <c>name.qweight</c> etc. in messages) into a
    /// float32 weight of <paramref name="layout"/>.</summary>
    public static Tensor Dequantize(string name, Tensor qweight, Tensor qzeros, Tensor scales, GptqAwqConfig config,
        DequantizedLayout layout = DequantizedLayout.OutIn)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(qweight);
        ArgumentNullException.ThrowIfNull(qzeros);
        ArgumentNullException.ThrowIfNull(scales);
        ArgumentNullException.ThrowIfNull(config);
        const string format = "AWQ";
        if (qweight.Rank != 2)
            throw new InvalidDataException($"{format}: '{name}.qweight' has shape {qweight.Shape}, expected 2-D (in_features, out_features/8)");
        int k = qweight.Shape[0], packedCols = qweight.Shape[1];
        int n = OutFeatures(packedCols, config.Bits, name + ".qweight");
        int g = PackedIntWords.GroupSize(config.GroupSize, k, name, format);
        int groups = k / g;

        var words = PackedIntWords.Words(qweight, name + ".qweight", format, k, packedCols, "(in_features, out_features/8)");
        var zeroWords = PackedIntWords.Words(qzeros, name + ".qzeros", format, groups, packedCols, "(in_features/group_size, out_features/8)");
        var s = PackedIntWords.Scales(scales, name + ".scales", format, groups, n);
        var zeros = PackedIntWords.Zeros(zeroWords, groups, n, 4, Order, add: 0);
        var groupOfInput = Enumerable.Range(0, k).Select(i => i / g).ToArray();

        var order = Order.ToArray();
        return PackedIntWords.Assemble(k, n, groupOfInput, s, zeros, (row, q) =>
        {
            var packed = words.AsSpan(row * packedCols, packedCols);
            for (int c = 0; c < packedCols; c++)
                for (int i = 0; i < 8; i++) q[8 * c + order[i]] = PackedIntWords.Get(packed[c], i, 4);
        }, layout);
    }
}
