namespace PeftEngine.Nn;

/// <summary>
/// The keys and values one attention layer has already computed during generation, in buffers preallocated
/// for <see cref="MaxLength"/> positions, (B, Hkv, maxT, D) each. <see cref="Append"/> copies the new
/// positions in place and returns views over everything cached so far.
/// </summary>
/// <remarks>HF: one layer of a StaticCache (preallocated, unlike DynamicCache which concatenates). The cache is
/// for inference: it is filled under no-grad, and no gradient flows into earlier positions through it.</remarks>
public sealed class KvCache : IDisposable
{
    private readonly Tensor _keys, _values;

    /// <summary>Allocates zeroed buffers for <paramref name="maxLength"/> positions.</summary>
    public KvCache(int batch, int kvHeads, int maxLength, int headDim, DType dtype = DType.F32, Device? device = null)
    {
        if (batch <= 0 || kvHeads <= 0 || maxLength <= 0 || headDim <= 0)
            throw new ArgumentException($"KvCache: sizes must be positive, got batch={batch}, kvHeads={kvHeads}, maxLength={maxLength}, headDim={headDim}");
        var shape = new Shape(batch, kvHeads, maxLength, headDim);
        _keys = TensorScope.Detach(Tensor.Zeros(shape, dtype, device));     // lives across generation steps
        _values = TensorScope.Detach(Tensor.Zeros(shape, dtype, device));
    }

    /// <summary>Number of positions stored so far (the position of the next token).</summary>
    public int Length { get; private set; }

    /// <summary>Capacity in positions.</summary>
    public int MaxLength => _keys.Shape[2];

    /// <summary>The shape of each buffer, (B, Hkv, maxT, D).</summary>
    public Shape BufferShape => _keys.Shape;

    /// <summary>
    /// Writes keys and values for T new positions, each (B, Hkv, T, D), at positions Length … Length+T−1, and
    /// returns views (B, Hkv, Length+T, D) of all cached keys and values (the caller disposes the views).
    /// </summary>
    public (Tensor Keys, Tensor Values) Append(Tensor keys, Tensor values)
    {
        var s = _keys.Shape;
        if (keys.Shape != values.Shape || keys.Rank != 4 || keys.Shape[0] != s[0] || keys.Shape[1] != s[1] || keys.Shape[3] != s[3])
            throw new ArgumentException($"KvCache.Append: keys {keys.Shape} and values {values.Shape} must both be (B={s[0]}, Hkv={s[1]}, T, D={s[3]})");
        if (keys.DType != _keys.DType)
            throw new ArgumentException($"KvCache.Append: keys are {keys.DType.Name()} but the cache holds {_keys.DType.Name()}");
        int t = keys.Shape[2];
        if (Length + t > MaxLength)
            throw new InvalidOperationException($"KvCache.Append: {Length} cached + {t} new positions exceed the capacity of {MaxLength}");
        using (GradMode.Disable())
        {
            using (var kSlot = Ops.Narrow(_keys, 2, Length, t)) Ops.CopyInPlace(kSlot, keys);     // (B, Hkv, T, D) slot
            using (var vSlot = Ops.Narrow(_values, 2, Length, t)) Ops.CopyInPlace(vSlot, values);
            Length += t;
            return (Ops.Narrow(_keys, 2, 0, Length), Ops.Narrow(_values, 2, 0, Length));
        }
    }

    /// <summary>Forgets every position (the buffers are kept for reuse).</summary>
    public void Reset() => Length = 0;

    /// <summary>Frees the buffers.</summary>
    public void Dispose()
    {
        _keys.Dispose();
        _values.Dispose();
    }
}
