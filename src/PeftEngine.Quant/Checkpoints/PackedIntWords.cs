using PeftEngine.Cpu;

namespace PeftEngine.Quant;

/// <summary>
/// What GPTQ and AWQ checkpoints share: small unsigned integers packed 32/bits to an int32 word (slot 0 in the
/// lowest bits), per-group scales and zeros, and the dequantization <c>W[k, n] = scale[g, n] · (q[k, n] − zero[g, n])</c>
/// with g the group of input k. The checks here name the tensor and the format in their messages.
/// </summary>
internal static class PackedIntWords
{
    /// <summary>Fills <paramref name="q"/> with the integers q[k, 0..N) of input row <paramref name="k"/>.</summary>
    public delegate void RowUnpacker(int k, Span<int> q);

    /// <summary>The value in slot <paramref name="slot"/> of <paramref name="word"/> (logical shift: the top slot may
    /// hold the sign bit).</summary>
    public static int Get(int word, int slot, int bits) => (int)(((uint)word >> (slot * bits)) & ((1u << bits) - 1));

    /// <summary>The int32 words of <paramref name="t"/> after checking dtype and shape.</summary>
    public static int[] Words(Tensor t, string key, string format, int rows, int cols, string layout)
    {
        if (t.DType != DType.I32)
            throw new InvalidDataException($"{format}: '{key}' must be int32 (I32), got {t.DType.Name()}");
        RequireShape(t, key, format, rows, cols, layout);
        return t.ToArray<int>();
    }

    /// <summary>The scales (F16, BF16 or F32) as float32, after checking the shape.</summary>
    public static float[] Scales(Tensor t, string key, string format, int groups, int n)
    {
        if (t.DType is not (DType.F16 or DType.BF16 or DType.F32))
            throw new InvalidDataException($"{format}: '{key}' must be float16, bfloat16 or float32, got {t.DType.Name()}");
        RequireShape(t, key, format, groups, n, "(groups, out_features)");
        if (t.DType == DType.F32) return t.ToArray<float>();
        using var f = Ops.Cast(t, DType.F32);
        return f.ToArray<float>();
    }

    /// <summary>Throws unless <paramref name="t"/> is 2-D of shape (rows, cols).</summary>
    public static void RequireShape(Tensor t, string key, string format, int rows, int cols, string layout)
    {
        if (t.Rank != 2 || t.Shape[0] != rows || t.Shape[1] != cols)
            throw new InvalidDataException($"{format}: '{key}' has shape {t.Shape}, expected ({rows}, {cols}) = {layout}");
    }

    /// <summary>The group size for <paramref name="inFeatures"/> inputs (-1 means one group), checked to divide it.</summary>
    public static int GroupSize(int groupSize, int inFeatures, string name, string format)
    {
        int g = groupSize == -1 ? inFeatures : groupSize;
        if (g <= 0)
            throw new InvalidDataException($"{format}: group_size {groupSize} is invalid for '{name}' (expected a positive size or -1)");
        if (inFeatures % g != 0)
            throw new InvalidDataException($"{format}: group_size {g} does not divide in_features {inFeatures} of '{name}'");
        return g;
    }

    /// <summary>Unpacks zeros stored along the output dimension: word [grp, c] slot i holds the zero of column
    /// c·(32/bits) + <paramref name="columnOfSlot"/>[i]; <paramref name="add"/> is added to each (1 for GPTQ v1).</summary>
    public static float[] Zeros(int[] words, int groups, int n, int bits, ReadOnlySpan<int> columnOfSlot, int add)
    {
        int per = 32 / bits, wordsPerRow = n / per;
        var zeros = new float[groups * n];
        for (int grp = 0; grp < groups; grp++)
            for (int c = 0; c < wordsPerRow; c++)
            {
                int word = words[grp * wordsPerRow + c];
                for (int i = 0; i < per; i++)
                    zeros[grp * n + c * per + columnOfSlot[i]] = Get(word, i, bits) + add;
            }
        return zeros;
    }

    /// <summary>
    /// Builds the float32 weight from integer rows: <c>W[k, n] = scales[g, n] · (q[k, n] − zeros[g, n])</c>,
    /// g = <paramref name="groupOfInput"/>[k], laid out as (out, in) or (in, out).
    /// </summary>
    public static Tensor Assemble(int k, int n, int[] groupOfInput, float[] scales, float[] zeros, RowUnpacker unpack, DequantizedLayout layout)
    {
        var w = new float[(long)k * n];
        CpuParallel.For(k, 4L * n, (start, end) =>
        {
            var q = new int[n];
            for (int row = (int)start; row < end; row++)
            {
                unpack(row, q);
                int g = groupOfInput[row];
                var s = scales.AsSpan(g * n, n);
                var z = zeros.AsSpan(g * n, n);
                if (layout == DequantizedLayout.InOut)
                {
                    var dst = w.AsSpan(row * n, n);   // (in, out): row k is contiguous
                    for (int col = 0; col < n; col++) dst[col] = s[col] * (q[col] - z[col]);
                }
                else
                {
                    for (int col = 0; col < n; col++) w[(long)col * k + row] = s[col] * (q[col] - z[col]);   // (out, in)
                }
            }
        });
        return layout == DequantizedLayout.InOut ? Tensor.FromArray(w, k, n) : Tensor.FromArray(w, n, k);
    }
}
