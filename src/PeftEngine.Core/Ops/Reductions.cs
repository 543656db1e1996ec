namespace PeftEngine;

/// <summary>
/// Reductions beyond sum and mean: max/min with their positions, argmax/argmin, product and log-sum-exp.
/// Variance, standard deviation and norms are in VarStd.cs and Norm.cs.
/// </summary>
/// <remarks>
/// Ties and NaN: max/min pick the FIRST extreme element along the dimension (in row-major order for the
/// all-element forms), and a NaN counts as more extreme than any number, so it is picked (and returned) when
/// present; -0 and +0 are equal. The gradient of max/min flows only to the picked element, like PyTorch's
/// torch.max(x, dim). (PyTorch's all-element torch.max() instead splits the gradient evenly between ties.)
/// </remarks>
public static partial class Ops
{
    /// <summary>The largest element along <paramref name="dim"/> and its position.</summary>
    /// <remarks>PyTorch: torch.max(x, dim, keepdim). Backward: the gradient goes to the first maximum.</remarks>
    public static ValuesAndIndices Max(Tensor x, int dim, bool keepDim = false) => Extreme(x, dim, keepDim, ReduceOp.Max, "Max");

    /// <summary>The smallest element along <paramref name="dim"/> and its position.</summary>
    /// <remarks>PyTorch: torch.min(x, dim, keepdim). Backward: the gradient goes to the first minimum.</remarks>
    public static ValuesAndIndices Min(Tensor x, int dim, bool keepDim = false) => Extreme(x, dim, keepDim, ReduceOp.Min, "Min");

    /// <summary>The largest element of x, as a 0-dimensional tensor.</summary>
    /// <remarks>PyTorch: torch.max(x). Backward: the gradient goes to the first maximum in row-major order.</remarks>
    public static Tensor Max(Tensor x) => ExtremeAll(x, ReduceOp.Max, "Max");

    /// <summary>The smallest element of x, as a 0-dimensional tensor.</summary>
    /// <remarks>PyTorch: torch.min(x). Backward: the gradient goes to the first minimum in row-major order.</remarks>
    public static Tensor Min(Tensor x) => ExtremeAll(x, ReduceOp.Min, "Min");

    /// <summary>The position (I64) of the first largest element along <paramref name="dim"/>.</summary>
    /// <remarks>PyTorch: torch.argmax(x, dim, keepdim).</remarks>
    public static Tensor ArgMax(Tensor x, int dim, bool keepDim = false) => ArgExtreme(x, dim, keepDim, ReduceOp.Max, "ArgMax");

    /// <summary>The position (I64) of the first smallest element along <paramref name="dim"/>.</summary>
    /// <remarks>PyTorch: torch.argmin(x, dim, keepdim).</remarks>
    public static Tensor ArgMin(Tensor x, int dim, bool keepDim = false) => ArgExtreme(x, dim, keepDim, ReduceOp.Min, "ArgMin");

    /// <summary>The row-major position (0-dimensional I64) of the first largest element of x.</summary>
    /// <remarks>PyTorch: torch.argmax(x).</remarks>
    public static Tensor ArgMax(Tensor x) => ArgExtremeAll(x, ReduceOp.Max, "ArgMax");

    /// <summary>The row-major position (0-dimensional I64) of the first smallest element of x.</summary>
    /// <remarks>PyTorch: torch.argmin(x).</remarks>
    public static Tensor ArgMin(Tensor x) => ArgExtremeAll(x, ReduceOp.Min, "ArgMin");

    /// <summary>The product of the elements along <paramref name="dim"/>.</summary>
    /// <remarks>PyTorch: torch.prod(x, dim, keepdim). Backward: dx_i = g · Π_{j≠i} x_j, computed from exclusive
    /// running products from both ends, so zeros in x are handled exactly.</remarks>
    public static Tensor Prod(Tensor x, int dim, bool keepDim = false)
    {
        CheckReduce(x, "Prod");
        int d = x.Shape.Normalize(dim);
        var y = DropKeptDims(ReduceDimsNoGrad(x, [d], ReduceOp.Prod), x.Shape, [d], keepDim);
        if (Graph.IsRecording(x)) Graph.Attach(y, new ProdNode(x, d, x.Shape), x);
        return y;
    }

    /// <summary>The product of all elements, as a 0-dimensional tensor.</summary>
    /// <remarks>PyTorch: torch.prod(x).</remarks>
    public static Tensor Prod(Tensor x)
    {
        CheckReduce(x, "Prod");
        using var flat = FlattenNoGrad(x);
        using var kept = ReduceDimsNoGrad(flat, [0], ReduceOp.Prod);
        Tensor y;
        using (GradMode.Disable()) y = Reshape(kept);
        if (Graph.IsRecording(x)) Graph.Attach(y, new ProdNode(flat, 0, x.Shape), x);
        return y;
    }

    /// <summary>log Σ exp(x) over <paramref name="dim"/>, computed without overflow as m + log Σ exp(x - m) with
    /// m the maximum.</summary>
    /// <remarks>PyTorch: torch.logsumexp(x, dim, keepdim). Backward: dx = g · exp(x - y) = g · softmax(x).
    /// A slice of all -∞ gives -∞ (and a NaN gradient, as in PyTorch).</remarks>
    public static Tensor LogSumExp(Tensor x, int dim, bool keepDim = false) => LogSumExp(x, [dim], keepDim);

    /// <summary>log Σ exp(x) over several dimensions (all of them when <paramref name="dims"/> is null).</summary>
    /// <remarks>PyTorch: torch.logsumexp(x, dims, keepdim).</remarks>
    public static Tensor LogSumExp(Tensor x, int[]? dims, bool keepDim = false)
    {
        CheckReduce(x, "LogSumExp");
        var axes = NormalizeDims(x.Shape, dims);
        // Reducing one axis after another is exact: logsumexp over (a, b) = logsumexp_a(logsumexp_b(x)).
        var kept = ReduceDimsNoGrad(x, axes, ReduceOp.LogSumExp);
        var node = Graph.IsRecording(x) ? new LogSumExpNode(x, kept) : null;
        var y = DropKeptDims(kept, x.Shape, axes, keepDim);
        if (node is not null) Graph.Attach(y, node, x);
        return y;
    }

    private static ValuesAndIndices Extreme(Tensor x, int dim, bool keepDim, ReduceOp op, string name)
    {
        CheckReduce(x, name);
        int d = x.Shape.Normalize(dim);
        if (x.Shape[d] == 0)
            throw new ArgumentException($"{name}: dimension {d} of {x.Shape} is empty; there is no extreme element to pick");
        var kept = Shape.Wrap(KeepDims(x.Shape, [d]));
        var values = Tensor.Empty(kept, x.DType, x.Device);
        var indices = Tensor.Empty(kept, DType.I64, x.Device);
        using (var xc = ContiguousNoGrad(x)) x.Backend.Reduce(op, xc, d, values, indices);
        Tensor v = values, i = indices;
        if (!keepDim)
        {
            var dropped = DropDims(x.Shape, [d]);
            using (GradMode.Disable())
            {
                v = Reshape(values, dropped);
                i = Reshape(indices, dropped);
            }
            values.Dispose();
        }
        // The node keeps the indices in the keepdim shape and reshapes the gradient to it.
        if (Graph.IsRecording(x)) Graph.Attach(v, new SelectionNode(name, x.Shape, x.Shape, d, indices), x);
        if (!keepDim) indices.Dispose();
        return new(v, i);
    }

    private static Tensor ExtremeAll(Tensor x, ReduceOp op, string name)
    {
        var (flat, value, index) = ExtremeOfFlat(x, op, name);
        using (flat)
        using (value)
        using (index)
        {
            Tensor y;
            using (GradMode.Disable()) y = Reshape(value);
            if (Graph.IsRecording(x)) Graph.Attach(y, new SelectionNode(name, x.Shape, flat.Shape, 0, index), x);
            return y;
        }
    }

    private static Tensor ArgExtreme(Tensor x, int dim, bool keepDim, ReduceOp op, string name)
    {
        using (GradMode.Disable())
        {
            var r = Extreme(x, dim, keepDim, op, name);
            r.Values.Dispose();
            return r.Indices;
        }
    }

    private static Tensor ArgExtremeAll(Tensor x, ReduceOp op, string name)
    {
        var (flat, value, index) = ExtremeOfFlat(x, op, name);
        using (flat)
        using (value)
        using (index)
        using (GradMode.Disable()) return Reshape(index);
    }

    /// <summary>Runs the max/min kernel over all elements: x flattened to (N), the extreme value (1) and its
    /// I64 position (1). The caller disposes all three.</summary>
    private static (Tensor Flat, Tensor Value, Tensor Index) ExtremeOfFlat(Tensor x, ReduceOp op, string name)
    {
        CheckReduce(x, name);
        if (x.Numel == 0) throw new ArgumentException($"{name}: the tensor {x.Shape} is empty; there is no extreme element to pick");
        var flat = FlattenNoGrad(x);
        var value = Tensor.Empty(new Shape(1), x.DType, x.Device);
        var index = Tensor.Empty(new Shape(1), DType.I64, x.Device);
        x.Backend.Reduce(op, flat, 0, value, index);
        return (flat, value, index);
    }

    private static void CheckReduce(Tensor x, string op)
    {
        x.ThrowIfDisposed();
        DTypes.RequireCompute(x, op);
    }

    private sealed class ProdNode : GradNode
    {
        private readonly SavedTensor _x;
        private readonly int _dim;
        private readonly Shape _inputShape;

        /// <param name="x">The input as the kernel saw it (for the all-element product, flattened).</param>
        public ProdNode(Tensor x, int dim, Shape inputShape)
        {
            _x = Save(x);
            _dim = dim;
            _inputShape = inputShape;
        }

        public override string Name => "Prod";

        public override Tensor?[] Backward(Tensor g)
        {
            var x = _x.Value;
            // dx_i = g · (x_0 ⋯ x_{i-1}) · (x_{i+1} ⋯ x_{n-1}): exclusive running products from the front and the back
            using var xc = ContiguousNoGrad(x);
            using var before = Tensor.EmptyLike(xc);
            using var after = Tensor.EmptyLike(xc);
            x.Backend.Scan(ScanOp.Prod, xc, _dim, before, reverse: false, exclusive: true);
            x.Backend.Scan(ScanOp.Prod, xc, _dim, after, reverse: true, exclusive: true);
            using var others = Mul(before, after);
            using var gk = Reshape(g, KeepDims(x.Shape, [_dim])); // broadcasts along dim
            using var dx = Mul(others, gk);
            return [Reshape(dx, _inputShape.ToArray())];
        }
    }

    private sealed class LogSumExpNode : GradNode
    {
        private readonly SavedTensor _x, _y;

        /// <param name="keptY">The result with the reduced dimensions kept as size 1.</param>
        public LogSumExpNode(Tensor x, Tensor keptY)
        {
            _x = Save(x);
            _y = Save(keptY);
        }

        public override string Name => "LogSumExp";

        public override Tensor?[] Backward(Tensor g)
        {
            var x = _x.Value;
            var y = _y.Value;
            // dx = g · exp(x - y), with g and y broadcast back over the reduced dimensions
            using var gk = Reshape(g, y.Shape.ToArray());
            using var shifted = Sub(x, y);
            using var softmax = UnaryForward(UnaryOp.Exp, shifted);
            return [Mul(softmax, gk)];
        }
    }
}
