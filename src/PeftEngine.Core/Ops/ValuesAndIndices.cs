namespace PeftEngine;

/// <summary>
/// The result of an op that picks elements along a dimension: the picked values and, as I64, their positions
/// along that dimension. The caller owns both tensors; disposing this disposes both.
/// </summary>
/// <remarks>PyTorch: the (values, indices) named tuple of torch.max(x, dim), torch.sort, torch.topk.
/// Deconstructs: <c>var (values, indices) = Ops.Max(x, 1);</c></remarks>
public sealed record ValuesAndIndices(Tensor Values, Tensor Indices) : IDisposable
{
    public void Dispose()
    {
        Values.Dispose();
        Indices.Dispose();
    }
}

public static partial class Ops
{
    /// <summary>
    /// Backward of every op that picks elements along a dimension (max/min, sort, topk): the gradient of each
    /// picked value goes to the input position it came from; every other position gets 0.
    /// dx[..., indices[..., j, ...], ...] += g[..., j, ...].
    /// </summary>
    private sealed class SelectionNode : GradNode
    {
        private readonly string _name;
        private readonly Shape _inputShape, _workShape;
        private readonly int _dim;
        private readonly SavedTensor _indices;

        /// <param name="name">The op, for messages.</param>
        /// <param name="inputShape">The shape of the op's input.</param>
        /// <param name="workShape">The shape the kernel saw the input as (the input shape, or the flattened
        /// input for a reduction over all elements).</param>
        /// <param name="dim">The dimension of <paramref name="workShape"/> that was picked along.</param>
        /// <param name="indices">Contiguous I64 positions, shaped like the values with <paramref name="dim"/> kept.</param>
        public SelectionNode(string name, Shape inputShape, Shape workShape, int dim, Tensor indices)
        {
            _name = name;
            _inputShape = inputShape;
            _workShape = workShape;
            _dim = dim;
            _indices = Save(indices);
        }

        public override string Name => _name;

        public override Tensor?[] Backward(Tensor g)
        {
            var indices = _indices.Value;
            // (values shape) -> (indices shape: dim kept), contiguous for the kernel
            using var shaped = Reshape(g, indices.Shape.ToArray());
            using var gc = ContiguousNoGrad(shaped);
            var dx = Tensor.Empty(_workShape, g.DType, g.Device);
            g.Backend.SelectionBackward(gc, indices, _dim, dx);
            if (_workShape == _inputShape) return [dx];
            using (dx) return [Reshape(dx, _inputShape.ToArray())];
        }
    }

    /// <summary>x as a contiguous 1-D tensor of all its elements (no graph).</summary>
    internal static Tensor FlattenNoGrad(Tensor x)
    {
        using var c = ContiguousNoGrad(x);
        using (GradMode.Disable()) return Reshape(c, (int)x.Numel);
    }

    /// <summary>Drops the size-1 <paramref name="axes"/> of <paramref name="kept"/> (a keepdim result) unless
    /// <paramref name="keepDim"/>; no graph. Consumes <paramref name="kept"/>.</summary>
    internal static Tensor DropKeptDims(Tensor kept, Shape inputShape, int[] axes, bool keepDim)
    {
        if (keepDim) return kept;
        using (kept)
        using (GradMode.Disable())
            return Reshape(kept, DropDims(inputShape, axes));
    }
}
