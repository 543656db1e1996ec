namespace PeftEngine;

/// <summary>
/// Embedding lookup: each id picks a row of a (V, D) table.
/// </summary>
/// <remarks>
/// Forward: y[i, :] = W[ids[i], :]. Backward: dW[v, :] = Σ_{i : ids[i] = v} g[i, :], a scatter-add that sums
/// repeated ids in a fixed order; no gradient flows to the ids.
/// </remarks>
public static partial class Ops
{
    /// <summary>
    /// The rows of <paramref name="weight"/> (V, D) named by the I64 <paramref name="ids"/> (any shape); the result
    /// has shape ids.shape + (D). The table may have any float dtype (a bf16 table is looked up without
    /// conversion); its gradient needs f32 or f64.
    /// </summary>
    /// <remarks>PyTorch: torch.nn.functional.embedding(ids, weight).</remarks>
    public static Tensor Embedding(Tensor weight, Tensor ids)
    {
        weight.ThrowIfDisposed();
        ids.ThrowIfDisposed();
        CheckSameDevice(weight, ids, "Embedding");
        if (weight.Rank != 2)
            throw new ArgumentException($"Embedding: weight must be a (V, D) table, got {weight.Shape}");
        if (!weight.DType.IsFloat())
            throw new ArgumentException($"Embedding: weight must be a float tensor, got {weight.DType.Name()} {weight.Shape}");
        if (ids.DType != DType.I64)
            throw new ArgumentException($"Embedding: ids must be i64, got {ids.DType.Name()} {ids.Shape}");
        if (weight.RequiresGrad && GradMode.IsEnabled && !weight.DType.IsCompute())
            throw new ArgumentException($"Embedding: the gradient of a {weight.DType.Name()} table is not supported; train an f32 or f64 table");

        int d = weight.Shape[1];
        using var w = ContiguousNoGrad(weight);
        using var flat = ReshapeNoGrad(ContiguousNoGrad(ids), -1);   // (…) -> (N)
        using var y = Tensor.Empty(new Shape(flat.Shape[0], d), weight.DType, weight.Device);
        weight.Backend.Embedding(w, flat, y);
        var result = ReshapeNoGrad(y.Alias(), [.. ids.Shape.ToArray(), d]);   // (N, D) -> (…, D)
        if (Graph.IsRecording(weight))
            Graph.Attach(result, new EmbeddingNode(flat, weight.Shape), weight);
        return result;
    }

    private sealed class EmbeddingNode : GradNode
    {
        private readonly SavedTensor _ids;   // (N)
        private readonly Shape _weightShape;

        public EmbeddingNode(Tensor ids, Shape weightShape)
        {
            _ids = Save(ids);
            _weightShape = weightShape;
        }

        public override Tensor?[] Backward(Tensor g)
        {
            var ids = _ids.Value;
            using var g2 = ReshapeNoGrad(ContiguousNoGrad(g), -1, _weightShape[1]);   // (…, D) -> (N, D)
            var dw = Tensor.Empty(_weightShape, g.DType, g.Device);
            g.Backend.EmbeddingBackward(ids, g2, dw);
            return [dw];
        }
    }
}
