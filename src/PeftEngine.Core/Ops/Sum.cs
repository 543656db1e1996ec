namespace PeftEngine;

/// <summary>Sum and mean over dimensions. Backward broadcasts the gradient back over the summed dimensions
/// (divided by the count for the mean).</summary>
public static partial class Ops
{
    /// <summary>The sum of all elements, as a 0-dimensional tensor.</summary>
    public static Tensor Sum(Tensor x) => SumOrMean(x, null, keepDim: false, mean: false);

    /// <summary>Sums over <paramref name="dims"/>; keeps them as size 1 when <paramref name="keepDim"/>.</summary>
    /// <remarks>PyTorch: torch.sum(x, dim, keepdim).</remarks>
    public static Tensor Sum(Tensor x, int[] dims, bool keepDim = false) => SumOrMean(x, dims, keepDim, mean: false);

    /// <summary>Sums over one dimension.</summary>
    public static Tensor Sum(Tensor x, int dim, bool keepDim = false) => SumOrMean(x, [dim], keepDim, mean: false);

    /// <summary>The mean of all elements.</summary>
    public static Tensor Mean(Tensor x) => SumOrMean(x, null, keepDim: false, mean: true);

    /// <summary>Means over <paramref name="dims"/>.</summary>
    public static Tensor Mean(Tensor x, int[] dims, bool keepDim = false) => SumOrMean(x, dims, keepDim, mean: true);

    /// <summary>Mean over one dimension.</summary>
    public static Tensor Mean(Tensor x, int dim, bool keepDim = false) => SumOrMean(x, [dim], keepDim, mean: true);

    private static Tensor SumOrMean(Tensor x, int[]? dims, bool keepDim, bool mean)
    {
        x.ThrowIfDisposed();
        DTypes.RequireCompute(x, mean ? "Mean" : "Sum");
        var axes = NormalizeDims(x.Shape, dims);
        var kept = ReduceDimsNoGrad(x, axes, mean ? ReduceOp.Mean : ReduceOp.Sum); // keepdim shape
        Tensor y = kept;
        if (!keepDim)
        {
            using (GradMode.Disable()) y = Reshape(kept, DropDims(x.Shape, axes));
            kept.Dispose();
        }
        if (Graph.IsRecording(x))
        {
            long count = 1;
            foreach (int a in axes) count *= x.Shape[a];
            Graph.Attach(y, new SumNode(x.Shape, axes, mean ? 1.0 / Math.Max(count, 1) : 1.0), x);
        }
        return y;
    }

    /// <summary>Reduces over each axis in turn (keepdim), starting from the last. No graph.</summary>
    internal static Tensor ReduceDimsNoGrad(Tensor x, int[] axes, ReduceOp op)
    {
        var cur = ContiguousNoGrad(x);
        foreach (int a in axes.OrderByDescending(a => a))
        {
            var dims = cur.Shape.ToArray();
            dims[a] = 1;
            var next = Tensor.Empty(Shape.Wrap(dims), cur.DType, cur.Device);
            cur.Backend.Reduce(op, cur, a, next);
            cur.Dispose();
            cur = next;
        }
        return cur;
    }

    /// <summary>Sorted, distinct, non-negative axes; all axes when <paramref name="dims"/> is null.</summary>
    internal static int[] NormalizeDims(Shape shape, int[]? dims)
    {
        if (dims is null) return Enumerable.Range(0, shape.Rank).ToArray();
        var set = new SortedSet<int>();
        foreach (int d in dims)
            if (!set.Add(shape.Normalize(d))) throw new ArgumentException($"dimension {d} repeated in the reduction over {shape}");
        return set.ToArray();
    }

    internal static int[] DropDims(Shape shape, int[] axes)
    {
        var dims = new List<int>();
        for (int d = 0; d < shape.Rank; d++)
            if (Array.IndexOf(axes, d) < 0) dims.Add(shape[d]);
        return dims.ToArray();
    }

    internal static int[] KeepDims(Shape shape, int[] axes)
    {
        var dims = shape.ToArray();
        foreach (int a in axes) dims[a] = 1;
        return dims;
    }

    private sealed class SumNode(Shape inputShape, int[] axes, double scale) : GradNode
    {
        public override string Name => scale == 1.0 ? "Sum" : "Mean";
        public override Tensor?[] Backward(Tensor g)
        {
            // (reduced...) -> (keepdim...) -> broadcast to the input shape
            using var kept = Reshape(g, KeepDims(inputShape, axes));
            using var expanded = Expand(kept, inputShape.ToArray());
            return [scale == 1.0 ? Contiguous(expanded) : Mul(expanded, scale)];
        }
    }
}
