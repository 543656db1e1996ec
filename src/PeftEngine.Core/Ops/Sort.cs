namespace PeftEngine;

/// <summary>Sorting along a dimension, and the k largest or smallest elements.</summary>
/// <remarks>
/// Order: the sort is stable (equal values keep their original order, ascending or descending); NaN counts as
/// larger than every number, so it comes last ascending and first descending; -0 and +0 are equal. TopK returns
/// exactly the first k entries of the corresponding sort. Backward: each picked value's gradient goes back to
/// the position it came from (a scatter through the indices); positions TopK did not pick get 0.
/// </remarks>
public static partial class Ops
{
    /// <summary>The elements sorted along <paramref name="dim"/>, and where each came from (I64).</summary>
    /// <remarks>PyTorch: torch.sort(x, dim, descending, stable=True).</remarks>
    public static ValuesAndIndices Sort(Tensor x, int dim = -1, bool descending = false)
    {
        CheckReduce(x, "Sort");
        int d = x.Shape.Normalize(dim);
        return SortedPrefix(x, d, x.Shape[d], descending, "Sort");
    }

    /// <summary>The positions (I64) that sort x along <paramref name="dim"/>.</summary>
    /// <remarks>PyTorch: torch.argsort(x, dim, descending, stable=True).</remarks>
    public static Tensor ArgSort(Tensor x, int dim = -1, bool descending = false)
    {
        using (GradMode.Disable())
        {
            var r = Sort(x, dim, descending);
            r.Values.Dispose();
            return r.Indices;
        }
    }

    /// <summary>The <paramref name="k"/> largest (or smallest) elements along <paramref name="dim"/>, in sorted
    /// order (largest first, or smallest first), and their positions (I64).</summary>
    /// <remarks>PyTorch: torch.topk(x, k, dim, largest, sorted=True). Ties keep the lower position first.</remarks>
    public static ValuesAndIndices TopK(Tensor x, int k, int dim = -1, bool largest = true)
    {
        CheckReduce(x, "TopK");
        int d = x.Shape.Normalize(dim);
        if (k < 0 || k > x.Shape[d])
            throw new ArgumentOutOfRangeException(nameof(k), $"TopK: k = {k} is outside [0, {x.Shape[d]}] for dimension {d} of {x.Shape}");
        return SortedPrefix(x, d, k, largest, "TopK");
    }

    private static ValuesAndIndices SortedPrefix(Tensor x, int d, int k, bool descending, string name)
    {
        var dims = x.Shape.ToArray();
        dims[d] = k;
        var shape = Shape.Wrap(dims);
        var values = Tensor.Empty(shape, x.DType, x.Device);
        var indices = Tensor.Empty(shape, DType.I64, x.Device);
        using (var xc = ContiguousNoGrad(x))
        {
            if (k == x.Shape[d]) x.Backend.Sort(xc, d, descending, values, indices);
            else x.Backend.TopK(xc, d, k, descending, values, indices);
        }
        if (Graph.IsRecording(x)) Graph.Attach(values, new SelectionNode(name, x.Shape, x.Shape, d, indices), x);
        return new(values, indices);
    }
}
