namespace PeftEngine;

/// <summary>Cumulative sum along a dimension.</summary>
/// <remarks>
/// y[k] = x[0] + ... + x[k]. Each x[i] appears in every y[k] with k ≥ i, so the backward is the cumulative
/// sum run from the other end: dx[i] = g[i] + g[i+1] + ... + g[n-1].
/// </remarks>
public static partial class Ops
{
    /// <summary>The running sum along <paramref name="dim"/>, same shape as x.</summary>
    /// <remarks>PyTorch: torch.cumsum(x, dim).</remarks>
    public static Tensor CumSum(Tensor x, int dim)
    {
        CheckReduce(x, "CumSum");
        int d = x.Shape.Normalize(dim);
        var y = Tensor.EmptyLike(x);
        using (var xc = ContiguousNoGrad(x)) x.Backend.Scan(ScanOp.Sum, xc, d, y);
        if (Graph.IsRecording(x)) Graph.Attach(y, new CumSumNode(d), x);
        return y;
    }

    private sealed class CumSumNode(int dim) : GradNode
    {
        public override string Name => "CumSum";

        public override Tensor?[] Backward(Tensor g)
        {
            // dx = reversed cumsum of g
            using var gc = ContiguousNoGrad(g);
            var dx = Tensor.EmptyLike(gc);
            g.Backend.Scan(ScanOp.Sum, gc, dim, dx, reverse: true);
            return [dx];
        }
    }
}
