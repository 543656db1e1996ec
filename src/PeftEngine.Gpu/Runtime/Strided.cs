namespace PeftEngine.Gpu;

/// <summary>
/// A tensor's layout as a kernel argument: offset plus up to <see cref="MaxRank"/> (size, stride) pairs in fixed
/// fields, so it is passed by value to a kernel. <see cref="At"/> maps a row-major element number to a storage
/// index, which is how kernels read strided and broadcast (stride 0) inputs.
/// </summary>
/// <remarks>Dimensions of size 1 are dropped and neighbours that are contiguous with each other are merged, so a
/// contiguous tensor of any rank becomes one dimension of stride 1 and takes the fast path.</remarks>
internal struct Strided
{
    /// <summary>The most dimensions left after merging.</summary>
    public const int MaxRank = 6;

    public long Offset;
    public int Rank;
    public long N0, N1, N2, N3, N4, N5;
    public long S0, S1, S2, S3, S4, S5;

    /// <summary>The storage index of element number <paramref name="linear"/> (row-major over the shape).</summary>
    public readonly long At(long linear)
    {
        if (Rank == 1 && S0 == 1) return Offset + linear;
        long off = Offset;
        for (int d = Rank - 1; d >= 0; d--)
        {
            long n = Size(d);
            long i = linear % n;
            linear /= n;
            off += i * Stride(d);
        }
        return off;
    }

    private readonly long Size(int d) => d switch { 0 => N0, 1 => N1, 2 => N2, 3 => N3, 4 => N4, _ => N5 };
    private readonly long Stride(int d) => d switch { 0 => S0, 1 => S1, 2 => S2, 3 => S3, 4 => S4, _ => S5 };

    /// <summary>The layout of <paramref name="t"/>, merged as far as possible.</summary>
    public static Strided Of(Tensor t, string op)
    {
        var sizes = new List<long>();
        var strides = new List<long>();
        var ts = t.Strides;
        for (int d = 0; d < t.Rank; d++)
        {
            long n = t.Shape[d];
            if (n == 1) continue;
            long s = ts[d];
            // Merge with the previous dimension when stepping over it equals stepping n times over this one.
            if (sizes.Count > 0 && strides[^1] == s * n)
            {
                sizes[^1] *= n;
                strides[^1] = s;
            }
            else
            {
                sizes.Add(n);
                strides.Add(s);
            }
        }
        if (sizes.Count == 0) { sizes.Add(1); strides.Add(1); }
        if (sizes.Count > MaxRank)
            throw new NotSupportedException($"{op}: a layout with {sizes.Count} non-mergeable dimensions (shape {t.Shape}, strides ({string.Join(", ", t.StridesArray())})) is not supported on the GPU backend; at most {MaxRank}");
        var l = new Strided { Offset = t.Offset, Rank = sizes.Count };
        for (int d = 0; d < sizes.Count; d++) l.Set(d, sizes[d], strides[d]);
        return l;
    }

    private void Set(int d, long n, long s)
    {
        switch (d)
        {
            case 0: N0 = n; S0 = s; break;
            case 1: N1 = n; S1 = s; break;
            case 2: N2 = n; S2 = s; break;
            case 3: N3 = n; S3 = s; break;
            case 4: N4 = n; S4 = s; break;
            default: N5 = n; S5 = s; break;
        }
    }
}
