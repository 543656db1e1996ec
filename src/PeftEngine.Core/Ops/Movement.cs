namespace PeftEngine;

/// <summary>
/// Movement ops: new views of the same storage (reshape, permute, transpose, squeeze, unsqueeze, expand,
/// narrow, select) and the copies that make a view contiguous. Each backward is the inverse movement.
/// </summary>
/// <remarks>Every op returns a new Tensor object that the caller owns, even when no data moved.</remarks>
public static partial class Ops
{
    /// <summary>A tensor with the same elements in a new shape; one size may be -1 (inferred). A view when the
    /// layout allows it, else a contiguous copy.</summary>
    /// <remarks>PyTorch: torch.reshape.</remarks>
    public static Tensor Reshape(Tensor x, params int[] shape)
    {
        var target = InferShape(x, shape);
        Tensor y;
        if (TryViewStrides(x, target, out var strides)) y = x.ViewAs(target, strides, x.Offset);
        else
        {
            using var c = ContiguousNoGrad(x);
            y = c.ViewAs(target, target.ContiguousStrides(), c.Offset);
        }
        if (Graph.IsRecording(x)) Graph.Attach(y, new ReshapeNode(x.Shape), x);
        return y;
    }

    /// <summary>Like <see cref="Reshape"/> but never copies: an error if the layout does not allow a view.</summary>
    /// <remarks>PyTorch: Tensor.view.</remarks>
    public static Tensor View(Tensor x, params int[] shape)
    {
        var target = InferShape(x, shape);
        if (!TryViewStrides(x, target, out _))
            throw new InvalidOperationException($"View: a tensor {x.Shape} with strides ({string.Join(", ", x.StridesArray())}) cannot be viewed as {target}; use Reshape or Contiguous first");
        return Reshape(x, shape);
    }

    /// <summary>Merges dimensions <paramref name="startDim"/>..<paramref name="endDim"/> into one.</summary>
    public static Tensor Flatten(Tensor x, int startDim = 0, int endDim = -1)
    {
        if (x.Rank == 0) return Reshape(x, 1);
        int s = x.Shape.Normalize(startDim), e = x.Shape.Normalize(endDim);
        var dims = new List<int>();
        for (int i = 0; i < s; i++) dims.Add(x.Shape[i]);
        int merged = 1;
        for (int i = s; i <= e; i++) merged *= x.Shape[i];
        dims.Add(merged);
        for (int i = e + 1; i < x.Rank; i++) dims.Add(x.Shape[i]);
        return Reshape(x, dims.ToArray());
    }

    /// <summary>Reorders the dimensions: output dimension i is input dimension <paramref name="order"/>[i].</summary>
    /// <remarks>PyTorch: torch.permute.</remarks>
    public static Tensor Permute(Tensor x, params int[] order)
    {
        if (order.Length != x.Rank) throw new ArgumentException($"Permute: order of length {order.Length} for a tensor of shape {x.Shape}");
        var seen = new bool[x.Rank];
        var dims = new int[x.Rank];
        var strides = new long[x.Rank];
        for (int i = 0; i < order.Length; i++)
        {
            int d = x.Shape.Normalize(order[i]);
            if (seen[d]) throw new ArgumentException($"Permute: dimension {d} appears twice in ({string.Join(", ", order)})");
            seen[d] = true;
            order[i] = d;
            dims[i] = x.Shape[d];
            strides[i] = x.Strides[d];
        }
        var y = x.ViewAs(Shape.Wrap(dims), strides, x.Offset);
        if (Graph.IsRecording(x)) Graph.Attach(y, new PermuteNode((int[])order.Clone()), x);
        return y;
    }

    /// <summary>Swaps two dimensions.</summary>
    public static Tensor Transpose(Tensor x, int dim0, int dim1)
    {
        var order = Enumerable.Range(0, x.Rank).ToArray();
        int a = x.Shape.Normalize(dim0), b = x.Shape.Normalize(dim1);
        (order[a], order[b]) = (order[b], order[a]);
        return Permute(x, order);
    }

    /// <summary>Inserts a size-1 dimension at <paramref name="dim"/> (negative counts from the end of the result).</summary>
    public static Tensor Unsqueeze(Tensor x, int dim)
    {
        int d = dim < 0 ? dim + x.Rank + 1 : dim;
        if (d < 0 || d > x.Rank) throw new ArgumentOutOfRangeException(nameof(dim), $"Unsqueeze: dimension {dim} out of range for shape {x.Shape}");
        var dims = x.Shape.ToArray().ToList();
        dims.Insert(d, 1);
        return Reshape(x, dims.ToArray());
    }

    /// <summary>Removes size-1 dimensions: all of them, or only <paramref name="dim"/>.</summary>
    public static Tensor Squeeze(Tensor x, int? dim = null)
    {
        var dims = x.Shape.ToArray().ToList();
        if (dim is int d0)
        {
            int d = x.Shape.Normalize(d0);
            if (dims[d] == 1) dims.RemoveAt(d);
        }
        else dims.RemoveAll(s => s == 1);
        return Reshape(x, dims.ToArray());
    }

    /// <summary>Broadcasts size-1 (or missing leading) dimensions to <paramref name="shape"/> without copying
    /// (stride 0). -1 keeps a size.</summary>
    /// <remarks>PyTorch: Tensor.expand. Backward sums over the expanded dimensions.</remarks>
    public static Tensor Expand(Tensor x, params int[] shape)
    {
        int extra = shape.Length - x.Rank;
        if (extra < 0) throw new ArgumentException($"Expand: target {new Shape(shape.Select(s => Math.Max(s, 0)).ToArray())} has fewer dimensions than {x.Shape}");
        var dims = new int[shape.Length];
        var strides = new long[shape.Length];
        for (int i = 0; i < shape.Length; i++)
        {
            int src = i - extra;
            int have = src >= 0 ? x.Shape[src] : 1;
            int want = shape[i] == -1 ? have : shape[i];
            if (have != want && have != 1)
                throw new ArgumentException($"Expand: cannot expand {x.Shape} to ({string.Join(", ", shape)}): dimension {i} is {have}");
            dims[i] = want;
            strides[i] = src >= 0 && have == want ? x.Strides[src] : 0;
        }
        var y = x.ViewAs(Shape.Wrap(dims), strides, x.Offset);
        if (Graph.IsRecording(x)) Graph.Attach(y, new PassThroughNode("Expand"), x); // the engine sums back to x's shape
        return y;
    }

    /// <summary>Expands to the shape of <paramref name="other"/>.</summary>
    public static Tensor ExpandAs(Tensor x, Tensor other) => Expand(x, other.Shape.ToArray());

    /// <summary>Elements start, start+step, ... (below end) along <paramref name="dim"/>, as a view.</summary>
    /// <remarks>PyTorch: x[..., start:end:step, ...]. Negative start/end count from the end.</remarks>
    public static Tensor Slice(Tensor x, int dim, int start, int end, int step = 1)
    {
        int d = x.Shape.Normalize(dim);
        int n = x.Shape[d];
        if (step <= 0) throw new ArgumentException($"Slice: step must be positive, got {step}");
        int s = Math.Clamp(start < 0 ? start + n : start, 0, n);
        int e = Math.Clamp(end < 0 ? end + n : end, 0, n);
        int len = e > s ? (e - s + step - 1) / step : 0;
        var dims = x.Shape.ToArray();
        var strides = x.StridesArray();
        dims[d] = len;
        strides[d] *= step;
        var y = x.ViewAs(Shape.Wrap(dims), strides, x.Offset + s * x.Strides[d]);
        if (Graph.IsRecording(x)) Graph.Attach(y, new SliceNode(x.Shape, d, s, step), x);
        return y;
    }

    /// <summary>length elements from start along dim (a view).</summary>
    /// <remarks>PyTorch: torch.narrow.</remarks>
    public static Tensor Narrow(Tensor x, int dim, int start, int length)
    {
        int n = x.Shape[dim];
        if (start < 0 || length < 0 || start + length > n)
            throw new ArgumentOutOfRangeException(nameof(start), $"Narrow: [{start}, {start + length}) is outside dimension {dim} of size {n} in {x.Shape}");
        return Slice(x, dim, start, start + length);
    }

    /// <summary>The slice at <paramref name="index"/> along <paramref name="dim"/>, with that dimension removed.</summary>
    /// <remarks>PyTorch: torch.select / x[:, i].</remarks>
    public static Tensor Select(Tensor x, int dim, int index)
    {
        int d = x.Shape.Normalize(dim);
        int n = x.Shape[d];
        int i = index < 0 ? index + n : index;
        if (i < 0 || i >= n) throw new ArgumentOutOfRangeException(nameof(index), $"Select: index {index} out of range for dimension {d} of size {n} in {x.Shape}");
        using var one = Slice(x, d, i, i + 1);
        return Squeeze(one, d);
    }

    /// <summary>A contiguous copy, or a new view of the same storage when the layout is already contiguous.</summary>
    public static Tensor Contiguous(Tensor x)
    {
        var y = ContiguousNoGrad(x);
        if (Graph.IsRecording(x)) Graph.Attach(y, new PassThroughNode("Contiguous"), x);
        return y;
    }

    /// <summary>A contiguous copy of the data that is not part of the graph.</summary>
    public static Tensor Clone(Tensor x)
    {
        var y = Tensor.EmptyLike(x);
        x.Backend.Copy(x, y);
        if (Graph.IsRecording(x)) Graph.Attach(y, new PassThroughNode("Clone"), x);
        return y;
    }

    internal static Tensor ContiguousNoGrad(Tensor x)
    {
        x.ThrowIfDisposed();
        if (x.IsContiguous) return x.Alias();
        var y = Tensor.EmptyLike(x);
        x.Backend.Copy(x, y);
        return y;
    }

    private static Shape InferShape(Tensor x, int[] shape)
    {
        int infer = -1;
        long known = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException("Reshape: only one dimension can be -1");
                infer = i;
            }
            else known *= shape[i];
        }
        var dims = (int[])shape.Clone();
        if (infer >= 0)
        {
            if (known == 0 || x.Numel % known != 0)
                throw new ArgumentException($"Reshape: cannot reshape {x.Shape} into ({string.Join(", ", shape)})");
            dims[infer] = (int)(x.Numel / known);
        }
        var target = new Shape(dims);
        if (target.Numel != x.Numel)
            throw new ArgumentException($"Reshape: cannot reshape {x.Shape} ({x.Numel} elements) into {target} ({target.Numel} elements)");
        return target;
    }

    /// <summary>Strides that view x's elements in <paramref name="target"/> order without a copy, if they exist.
    /// Each group of target dimensions must cover a group of x dimensions that are laid out one after another.</summary>
    private static bool TryViewStrides(Tensor x, Shape target, out long[] strides)
    {
        strides = target.ContiguousStrides();
        if (x.IsContiguous || x.Numel == 0) return true;
        // Size-1 dimensions of x carry no layout information: drop them.
        var xd = new List<int>();
        var xs = new List<long>();
        for (int d = 0; d < x.Rank; d++)
            if (x.Shape[d] != 1) { xd.Add(x.Shape[d]); xs.Add(x.Strides[d]); }
        int xi = xd.Count - 1, ti = target.Rank - 1;
        while (ti >= 0)
        {
            if (target[ti] == 1) { ti--; continue; }
            if (xi < 0) return false;
            // Grow a group of x dims [xj..xi] and target dims [tj..ti] until their sizes agree.
            long xProd = xd[xi], tProd = target[ti];
            int xj = xi, tj = ti;
            while (xProd != tProd)
            {
                if (xProd < tProd)
                {
                    if (--xj < 0) return false;
                    if (xs[xj] != xs[xj + 1] * xd[xj + 1]) return false; // not laid out back to back
                    xProd *= xd[xj];
                }
                else
                {
                    if (--tj < 0) return false;
                    tProd *= target[tj];
                }
            }
            // Inside the group the elements step uniformly from x's innermost stride.
            long s = xs[xi];
            for (int t = ti; t >= tj; t--)
            {
                strides[t] = s;
                s *= target[t];
            }
            xi = xj - 1;
            ti = tj - 1;
        }
        return xi < 0;
    }

    private sealed class ReshapeNode(Shape inputShape) : GradNode
    {
        public override Tensor?[] Backward(Tensor g) => [Reshape(g, inputShape.ToArray())];
    }

    private sealed class PermuteNode(int[] order) : GradNode
    {
        public override Tensor?[] Backward(Tensor g)
        {
            var inverse = new int[order.Length];
            for (int i = 0; i < order.Length; i++) inverse[order[i]] = i;
            return [Permute(g, inverse)];
        }
    }

    /// <summary>Gradient passes through unchanged (the engine sums it to the input's shape when broadcast).</summary>
    internal sealed class PassThroughNode(string name) : GradNode
    {
        public override string Name => name;
        public override Tensor?[] Backward(Tensor g) => [g.Alias()];
    }

    private sealed class SliceNode(Shape inputShape, int dim, int start, int step) : GradNode
    {
        public override Tensor?[] Backward(Tensor g)
        {
            // Scatter the gradient back into a zero tensor of the input's shape.
            var full = Tensor.Zeros(inputShape, g.DType, g.Device);
            using var window = Slice(full, dim, start, start + g.Shape[dim] * step, step);
            g.Backend.Copy(g, window);
            return [full];
        }
    }
}
