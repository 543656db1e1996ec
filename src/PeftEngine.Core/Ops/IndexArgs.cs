namespace PeftEngine;

/// <summary>Argument checks and layout helpers shared by the index ops (<see cref="Ops.IndexSelect"/>,
/// <see cref="Ops.Gather"/>, <see cref="Ops.ScatterAdd"/>, <see cref="Ops.OneHot"/>).</summary>
internal static class IndexArgs
{
    /// <summary>Maps a possibly negative dimension to 0..rank-1, or throws naming the op and the shape.</summary>
    public static int Dim(Shape shape, int dim, string op)
    {
        int d = dim < 0 ? dim + shape.Rank : dim;
        if (d < 0 || d >= shape.Rank)
            throw new ArgumentOutOfRangeException(nameof(dim), $"{op}: dimension {dim} is out of range for a tensor of shape {shape}");
        return d;
    }

    /// <summary>
    /// A contiguous view (or copy) of an I64 index after checking that every value lies in [0, shape[dim]).
    /// The error names the op, the offending value and the size of the dimension.
    /// </summary>
    public static unsafe Tensor Contiguous(Tensor index, Shape shape, int dim, string op)
    {
        var c = Ops.ContiguousNoGrad(index);
        try
        {
            long size = shape[dim];
            if (c.Numel == 0) return c;
            if (c.Device.IsHost)
            {
                long* p = c.HostStorage.Ptr<long>(c.Offset);
                for (long i = 0; i < c.Numel; i++)
                    if ((ulong)p[i] >= (ulong)size) throw OutOfRange(op, p[i], dim, shape);
            }
            else
            {
                foreach (long v in c.ToArray<long>())
                    if ((ulong)v >= (ulong)size) throw OutOfRange(op, v, dim, shape);
            }
            return c;
        }
        catch
        {
            c.Dispose();
            throw;
        }
    }

    private static ArgumentOutOfRangeException OutOfRange(string op, long value, int dim, Shape shape) =>
        new("index", $"{op}: index {value} is out of range for dimension {dim} of size {shape[dim]} (tensor of shape {shape}); valid indices are 0 to {shape[dim] - 1}");

    /// <summary>
    /// Checks the shape rules of gather and scatter: the index has the rank of <paramref name="shape"/> and is no
    /// larger in any dimension other than <paramref name="dim"/> (pass -1 to check every dimension).
    /// </summary>
    public static void CheckScatterShapes(Shape shape, Shape index, int dim, string op, string name)
    {
        if (index.Rank != shape.Rank)
            throw new ArgumentException($"{op}: index {index} must have the same number of dimensions as {name} {shape}");
        for (int d = 0; d < shape.Rank; d++)
            if (d != dim && index[d] > shape[d])
                throw new ArgumentException($"{op}: index {index} is larger than {name} {shape} in dimension {d}");
    }

    /// <summary>
    /// A view of the leading corner of <paramref name="t"/> with the sizes of <paramref name="extent"/> in every
    /// dimension except <paramref name="keepDim"/> (which keeps t's size; -1 keeps none). Not recorded in the graph.
    /// </summary>
    public static Tensor Window(Tensor t, Shape extent, int keepDim)
    {
        var dims = extent.ToArray();
        if (keepDim >= 0) dims[keepDim] = t.Shape[keepDim];
        // Starting at index 0 in every dimension keeps the offset and the strides.
        return t.ViewAs(Shape.Wrap(dims), t.StridesArray(), t.Offset);
    }

    /// <summary>
    /// dst[o, index[o, j, i], i] += src[o, j, i] for a contiguous <paramref name="dst"/> and contiguous index and
    /// src of the index's shape, which may be smaller than dst outside <paramref name="dim"/>.
    /// </summary>
    public static void ScatterAddInto(Tensor dst, int dim, Tensor index, Tensor src)
    {
        bool fits = true;
        for (int d = 0; d < dst.Rank; d++)
            if (d != dim && index.Shape[d] != dst.Shape[d]) fits = false;
        if (fits)
        {
            dst.Backend.ScatterAdd(dst, dim, index, src);
            return;
        }
        // The kernel wants matching sizes outside dim: scatter into a zero block of that size, then add the
        // block onto the corner of dst it covers.
        var dims = index.Shape.ToArray();
        dims[dim] = dst.Shape[dim];
        using var part = Tensor.Zeros(Shape.Wrap(dims), dst.DType, dst.Device);
        dst.Backend.ScatterAdd(part, dim, index, src);
        using var corner = Window(dst, part.Shape, -1);
        dst.Backend.Binary(BinaryOp.Add, corner, part, corner);
    }
}
