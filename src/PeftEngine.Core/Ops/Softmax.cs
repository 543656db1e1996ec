namespace PeftEngine;

/// <summary>
/// Softmax and log-softmax along one dimension, as one fused kernel each way.
/// </summary>
/// <remarks>
/// Forward (row max m for stability): softmax_j = exp(x_j - m) / Σ_k exp(x_k - m);
/// log_softmax_j = x_j - m - log Σ_k exp(x_k - m).
/// Backward from the saved output y: softmax: dx = y ∘ (g - Σ_j g_j y_j); log-softmax: dx = g - exp(y) Σ_j g_j.
/// The kernels work on the last dimension; another dimension is moved last (a transposed copy) and the
/// result is handed back as a view in the original order.
/// </remarks>
public static partial class Ops
{
    /// <summary>exp(x) normalised to sum to 1 along <paramref name="dim"/>.</summary>
    /// <remarks>PyTorch: torch.softmax(x, dim). A row that is all -inf gives NaN, as in PyTorch.</remarks>
    public static Tensor Softmax(Tensor x, int dim = -1) => SoftmaxForward(x, dim, log: false);

    /// <summary>log(softmax(x)) along <paramref name="dim"/>, computed without forming softmax(x).</summary>
    /// <remarks>PyTorch: torch.log_softmax(x, dim).</remarks>
    public static Tensor LogSoftmax(Tensor x, int dim = -1) => SoftmaxForward(x, dim, log: true);

    private static Tensor SoftmaxForward(Tensor x, int dim, bool log)
    {
        string op = log ? "LogSoftmax" : "Softmax";
        x.ThrowIfDisposed();
        DTypes.RequireCompute(x, op);
        if (x.Rank == 0) throw new ArgumentException($"{op}: needs a tensor with at least one dimension, got a scalar");
        int d = x.Shape.Normalize(dim);
        using var moved = MoveDimLastContiguous(x, d);   // (…, n, …) -> (…, …, n)
        var y = Tensor.EmptyLike(moved);
        x.Backend.Softmax(moved, y, log);
        var result = MoveLastDimBack(y, d, x.Rank);
        if (Graph.IsRecording(x)) Graph.Attach(result, new SoftmaxNode(y, d, log), x);
        y.Dispose();
        return result;
    }

    /// <summary>A contiguous copy of x with dimension <paramref name="d"/> swapped with the last one (an alias when
    /// d is already last and x is contiguous). Not recorded.</summary>
    internal static Tensor MoveDimLastContiguous(Tensor x, int d)
    {
        if (d == x.Rank - 1) return ContiguousNoGrad(x);
        using (GradMode.Disable())
        {
            using var t = Transpose(x, d, -1);
            return ContiguousNoGrad(t);
        }
    }

    /// <summary>The inverse of <see cref="MoveDimLastContiguous"/> as a view (a new tensor either way). Not recorded.</summary>
    internal static Tensor MoveLastDimBack(Tensor y, int d, int rank)
    {
        if (d == rank - 1) return y.Alias();
        using (GradMode.Disable()) return Transpose(y, d, -1);
    }

    private sealed class SoftmaxNode : GradNode
    {
        private readonly SavedTensor _y;   // the output, with the softmax dimension last
        private readonly int _dim;
        private readonly bool _log;

        public SoftmaxNode(Tensor y, int dim, bool log)
        {
            _y = Save(y);
            _dim = dim;
            _log = log;
        }

        public override string Name => _log ? "LogSoftmax" : "Softmax";

        public override Tensor?[] Backward(Tensor g)
        {
            var y = _y.Value;
            using var gm = MoveDimLastContiguous(g, _dim);
            using var dx = Tensor.EmptyLike(y);
            y.Backend.SoftmaxBackward(y, gm, dx, _log);
            return [MoveLastDimBack(dx, _dim, g.Rank)];
        }
    }
}
