namespace PeftEngine;

/// <summary>
/// Ops that read or write elements at I64 indices along one dimension (index-select, gather, scatter-add,
/// index-add) and masked fill. Indices are range-checked before any kernel runs.
/// </summary>
/// <remarks>
/// Backward: index-select and gather read each input element zero or more times, so their gradient adds the
/// output gradient back at the same indices (index-add and scatter-add into zeros). Scatter-add passes the
/// gradient straight to x and gathers it for src. Masked fill zeroes the gradient where the mask is set.
/// </remarks>
public static partial class Ops
{
    /// <summary>The slices of <paramref name="x"/> at <paramref name="index"/> along <paramref name="dim"/>, in
    /// index order (repeats allowed). The result has x's shape with dim resized to the number of indices.</summary>
    /// <remarks>PyTorch: torch.index_select(x, dim, index). With dim 0 and a table of embeddings this is the
    /// embedding lookup. The index is a 1-D (or 0-D) I64 tensor with values in [0, x.size(dim)).</remarks>
    public static Tensor IndexSelect(Tensor x, int dim, Tensor index)
    {
        const string op = "IndexSelect";
        CheckIndexOperands(x, index, op);
        int d = IndexArgs.Dim(x.Shape, dim, op);
        if (index.Rank > 1)
            throw new ArgumentException($"{op}: index must be 1-D, got shape {index.Shape}");
        using var idx = IndexArgs.Contiguous(index, x.Shape, d, op);
        using var xc = ContiguousNoGrad(x);
        var dims = x.Shape.ToArray();
        dims[d] = checked((int)index.Numel);
        var y = Tensor.Empty(Shape.Wrap(dims), x.DType, x.Device);
        x.Backend.IndexSelect(xc, d, idx, y);
        if (Graph.IsRecording(x)) Graph.Attach(y, new IndexSelectNode(x.Shape, d, idx), x);
        return y;
    }

    /// <summary>x[..., index[j], ...] += src[..., j, ...] along <paramref name="dim"/>, in place and outside the
    /// graph; repeated indices add up. src has x's shape with dim resized to the number of indices.</summary>
    /// <remarks>PyTorch: Tensor.index_add_(dim, index, src). Bumps x's version.</remarks>
    public static void IndexAddInPlace(Tensor x, int dim, Tensor index, Tensor src)
    {
        const string op = "IndexAddInPlace";
        CheckInPlace(x, op);
        CheckBinary(x, src, op);
        CheckIndexOperands(x, index, op);
        int d = IndexArgs.Dim(x.Shape, dim, op);
        if (index.Rank > 1)
            throw new ArgumentException($"{op}: index must be 1-D, got shape {index.Shape}");
        var want = x.Shape.ToArray();
        want[d] = checked((int)index.Numel);
        if (src.Shape != new Shape(want))
            throw new ArgumentException($"{op}: src has shape {src.Shape}, expected {new Shape(want)} (x {x.Shape} with dimension {d} resized to the {index.Numel} indices)");
        using var idx = IndexArgs.Contiguous(index, x.Shape, d, op);
        using var sc = ContiguousNoGrad(src);
        if (x.IsContiguous)
            x.Backend.IndexAdd(x, d, idx, sc);
        else
        {
            using var tmp = ContiguousNoGrad(x);  // a copy: x is not contiguous
            x.Backend.IndexAdd(tmp, d, idx, sc);
            x.Backend.Copy(tmp, x);
        }
        x.Storage.BumpVersion();
    }

    /// <summary>out[i][j][k] = x[i][index[i][j][k]][k] for dim 1 (and likewise for other dims): each element of
    /// <paramref name="index"/> picks one element along dim. The result has index's shape.</summary>
    /// <remarks>PyTorch: torch.gather(x, dim, index). index has x's rank, and in every dimension other than dim
    /// it is no larger than x.</remarks>
    public static Tensor Gather(Tensor x, int dim, Tensor index)
    {
        const string op = "Gather";
        CheckIndexOperands(x, index, op);
        int d = IndexArgs.Dim(x.Shape, dim, op);
        IndexArgs.CheckScatterShapes(x.Shape, index.Shape, d, op, "x");
        using var idx = IndexArgs.Contiguous(index, x.Shape, d, op);
        using var window = IndexArgs.Window(x, index.Shape, d);  // x cut to index's extent outside dim
        using var xc = ContiguousNoGrad(window);
        var y = Tensor.Empty(index.Shape, x.DType, x.Device);
        x.Backend.Gather(xc, d, idx, y);
        if (Graph.IsRecording(x)) Graph.Attach(y, new GatherNode(x.Shape, d, idx), x);
        return y;
    }

    /// <summary>A copy of x with out[i][index[i][j][k]][k] += src[i][j][k] for dim 1 (and likewise for other
    /// dims); repeated indices add up. Differentiable with respect to x and src.</summary>
    /// <remarks>PyTorch: torch.scatter_add(x, dim, index, src). index has x's rank; it is no larger than src in
    /// any dimension and no larger than x outside dim. Only the first index.size(d) elements of src along each
    /// dimension d are used.</remarks>
    public static Tensor ScatterAdd(Tensor x, int dim, Tensor index, Tensor src)
    {
        const string op = "ScatterAdd";
        CheckBinary(x, src, op);
        CheckIndexOperands(x, index, op);
        int d = IndexArgs.Dim(x.Shape, dim, op);
        IndexArgs.CheckScatterShapes(x.Shape, index.Shape, d, op, "x");
        IndexArgs.CheckScatterShapes(src.Shape, index.Shape, -1, op, "src");
        using var idx = IndexArgs.Contiguous(index, x.Shape, d, op);
        using var srcWindow = IndexArgs.Window(src, index.Shape, -1);
        using var sc = ContiguousNoGrad(srcWindow);
        var y = Tensor.EmptyLike(x);
        x.Backend.Copy(x, y);
        IndexArgs.ScatterAddInto(y, d, idx, sc);
        if (Graph.IsRecording(x, src)) Graph.Attach(y, new ScatterAddNode(d, idx, src.Shape), x, src);
        return y;
    }

    /// <summary>x with <paramref name="value"/> wherever <paramref name="mask"/> is set (non-zero). The U8 mask
    /// broadcasts to x's shape.</summary>
    /// <remarks>PyTorch: torch.masked_fill(x, mask, value), e.g. scores.masked_fill(causal, -inf). The
    /// gradient is zero at the filled positions and passes through elsewhere.</remarks>
    public static Tensor MaskedFill(Tensor x, Tensor mask, double value)
    {
        const string op = "MaskedFill";
        x.ThrowIfDisposed();
        mask.ThrowIfDisposed();
        CheckSameDevice(x, mask, op);
        DTypes.RequireCompute(x, op);
        if (mask.DType != DType.U8)
            throw new ArgumentException($"{op}: mask must be u8 (0 or 1), got {mask.DType.Name()} {mask.Shape}");
        bool broadcasts = mask.Rank <= x.Rank;
        for (int k = 1; broadcasts && k <= mask.Rank; k++)
            broadcasts = mask.Shape[-k] == 1 || mask.Shape[-k] == x.Shape[-k];
        if (!broadcasts)
            throw new ArgumentException($"{op}: mask {mask.Shape} does not broadcast to the shape {x.Shape} of x");
        var y = Tensor.EmptyLike(x);
        using (var m = ExpandNoGrad(mask, x.Shape))
            x.Backend.MaskedFill(x, m, value, y);
        if (Graph.IsRecording(x)) Graph.Attach(y, new MaskedFillNode(mask), x);
        return y;
    }

    private static void CheckIndexOperands(Tensor x, Tensor index, string op)
    {
        x.ThrowIfDisposed();
        index.ThrowIfDisposed();
        CheckSameDevice(x, index, op);
        if (index.DType != DType.I64)
            throw new ArgumentException($"{op}: index must be i64, got {index.DType.Name()} {index.Shape}; cast it with .To(DType.I64)");
    }

    private sealed class IndexSelectNode : GradNode
    {
        private readonly Shape _inputShape;
        private readonly int _dim;
        private readonly SavedTensor _index;
        public IndexSelectNode(Shape inputShape, int dim, Tensor index)
        {
            _inputShape = inputShape;
            _dim = dim;
            _index = Save(index);
        }
        public override Tensor?[] Backward(Tensor g)
        {
            // dx[..., index[j], ...] += g[..., j, ...]: every pick sends its gradient home.
            var dx = Tensor.Zeros(_inputShape, g.DType, g.Device);
            using var gc = ContiguousNoGrad(g);
            g.Backend.IndexAdd(dx, _dim, _index.Value, gc);
            return [dx];
        }
    }

    private sealed class GatherNode : GradNode
    {
        private readonly Shape _inputShape;
        private readonly int _dim;
        private readonly SavedTensor _index;
        public GatherNode(Shape inputShape, int dim, Tensor index)
        {
            _inputShape = inputShape;
            _dim = dim;
            _index = Save(index);
        }
        public override Tensor?[] Backward(Tensor g)
        {
            // dx[i][index[i][j][k]][k] += g[i][j][k]
            var dx = Tensor.Zeros(_inputShape, g.DType, g.Device);
            using var gc = ContiguousNoGrad(g);
            IndexArgs.ScatterAddInto(dx, _dim, _index.Value, gc);
            return [dx];
        }
    }

    private sealed class ScatterAddNode : GradNode
    {
        private readonly int _dim;
        private readonly SavedTensor _index;
        private readonly Shape _srcShape;
        public ScatterAddNode(int dim, Tensor index, Shape srcShape)
        {
            _dim = dim;
            _index = Save(index);
            _srcShape = srcShape;
        }
        public override Tensor?[] Backward(Tensor g)
        {
            // dx = g;  dsrc[i][j][k] = g[i][index[i][j][k]][k] (zero where src was not used)
            Tensor? dsrc = null;
            if (NeedsGrad(1))
            {
                var index = _index.Value;
                dsrc = Gather(g, _dim, index);
                if (index.Shape != _srcShape)
                {
                    var full = Tensor.Zeros(_srcShape, g.DType, g.Device);
                    using (var window = IndexArgs.Window(full, index.Shape, -1))
                        g.Backend.Copy(dsrc, window);
                    dsrc.Dispose();
                    dsrc = full;
                }
            }
            return [NeedsGrad(0) ? g.Alias() : null, dsrc];
        }
    }

    private sealed class MaskedFillNode : GradNode
    {
        private readonly SavedTensor _mask;
        public MaskedFillNode(Tensor mask) => _mask = Save(mask);
        public override Tensor?[] Backward(Tensor g)
        {
            // dx = mask ? 0 : g
            var dx = Tensor.EmptyLike(g);
            using (var m = ExpandNoGrad(_mask.Value, g.Shape))
                g.Backend.MaskedFill(g, m, 0, dx);
            return [dx];
        }
    }
}
