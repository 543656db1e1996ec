namespace PeftEngine;

/// <summary>
/// Walks several same-shaped strided views row by row. Dimensions that are laid out back to back in every
/// operand are merged first, so a contiguous tensor becomes one long row and a (B, T, C) tensor broadcast
/// against a (C) bias becomes B*T rows of C. Kernels then run a SIMD loop over each row.
/// </summary>
/// <remarks>Rows are independent, so kernels may process them in parallel. Operand 0 is usually the output.</remarks>
public sealed class RowLayout
{
    private readonly int[] _outerDims;     // merged dimensions except the innermost
    private readonly long[][] _outerStrides; // [operand][dim]
    private readonly long[] _offsets;

    /// <summary>Plans the walk over <paramref name="shape"/> for operands with the given strides and offsets.</summary>
    public RowLayout(Shape shape, ReadOnlySpan<long[]> strides, ReadOnlySpan<long> offsets)
    {
        int n = strides.Length;
        _offsets = offsets.ToArray();
        // Drop size-1 dimensions: they contribute nothing to any offset.
        var dims = new List<int>();
        var st = new List<long[]>();
        for (int d = 0; d < shape.Rank; d++)
        {
            if (shape.Dims[d] == 1) continue;
            dims.Add(shape.Dims[d]);
            var s = new long[n];
            for (int k = 0; k < n; k++) s[k] = strides[k][d];
            st.Add(s);
        }
        // Merge dimension d into d+1 when, for every operand, stepping d equals stepping d+1 a full extent.
        for (int d = dims.Count - 2; d >= 0; d--)
        {
            bool mergeable = true;
            for (int k = 0; k < n && mergeable; k++)
                mergeable = st[d][k] == st[d + 1][k] * dims[d + 1];
            if (!mergeable) continue;
            dims[d + 1] *= dims[d];
            dims.RemoveAt(d);
            st.RemoveAt(d);
        }
        if (dims.Count == 0)
        {
            dims.Add(1);
            st.Add(new long[n]);
        }
        RowLength = dims[^1];
        InnerStrides = st[^1];
        _outerDims = dims.Take(dims.Count - 1).ToArray();
        _outerStrides = new long[n][];
        for (int k = 0; k < n; k++)
            _outerStrides[k] = st.Take(dims.Count - 1).Select(s => s[k]).ToArray();
        long rows = 1;
        foreach (int d in _outerDims) rows *= d;
        RowCount = shape.Numel == 0 ? 0 : rows;
    }

    /// <summary>Plans a walk over tensors that all have the same shape.</summary>
    public static RowLayout Of(params Tensor[] tensors)
    {
        var strides = new long[tensors.Length][];
        var offsets = new long[tensors.Length];
        for (int i = 0; i < tensors.Length; i++)
        {
            if (tensors[i].Shape != tensors[0].Shape)
                throw new ArgumentException($"RowLayout: operand {i} has shape {tensors[i].Shape}, expected {tensors[0].Shape}");
            strides[i] = tensors[i].StridesArray();
            offsets[i] = tensors[i].Offset;
        }
        return new RowLayout(tensors[0].Shape, strides, offsets);
    }

    /// <summary>Elements per row.</summary>
    public int RowLength { get; }

    /// <summary>Number of rows.</summary>
    public long RowCount { get; }

    /// <summary>Element step along a row, per operand (1 = contiguous, 0 = broadcast).</summary>
    public long[] InnerStrides { get; }

    /// <summary>The storage element index where row <paramref name="row"/> of operand <paramref name="operand"/> starts.</summary>
    public long Offset(int operand, long row)
    {
        long off = _offsets[operand];
        var strides = _outerStrides[operand];
        for (int d = _outerDims.Length - 1; d >= 0 && row > 0; d--)
        {
            long i = row % _outerDims[d];
            row /= _outerDims[d];
            off += i * strides[d];
        }
        return off;
    }
}
