namespace PeftEngine;

/// <summary>Vector p-norms over dimensions: ‖x‖_p = (Σ |x|^p)^(1/p), and ‖x‖_∞ = max |x|.</summary>
/// <remarks>
/// p must be at least 1 (a true norm) or +∞. Backward:
/// <list type="bullet">
/// <item>p = 1: dx = g · sign(x) (0 at x = 0), composed from Abs and Sum.</item>
/// <item>p = 2: dx = g · x / ‖x‖.</item>
/// <item>general p: dx = g · sign(x) |x|^(p-1) / ‖x‖^(p-1).</item>
/// <item>p = ∞: composed from Abs and Max, so the gradient goes to the first element of largest magnitude
/// (PyTorch splits it evenly between ties).</item>
/// </list>
/// Where the norm is 0 the gradient is 0 (the subgradient PyTorch picks too).
/// </remarks>
public static partial class Ops
{
    /// <summary>The p-norm of all elements (p = 2: the Euclidean length).</summary>
    /// <remarks>PyTorch: torch.linalg.vector_norm(x, ord=p).</remarks>
    public static Tensor Norm(Tensor x, double p = 2) => Norm(x, p, null);

    /// <summary>The p-norm over one dimension.</summary>
    /// <remarks>PyTorch: torch.linalg.vector_norm(x, ord=p, dim=dim, keepdim=keepDim).</remarks>
    public static Tensor Norm(Tensor x, double p, int dim, bool keepDim = false) => Norm(x, p, [dim], keepDim);

    /// <summary>The p-norm over <paramref name="dims"/> (all when null).</summary>
    /// <remarks>PyTorch: torch.linalg.vector_norm(x, ord=p, dim=dims, keepdim=keepDim).</remarks>
    public static Tensor Norm(Tensor x, double p, int[]? dims, bool keepDim = false)
    {
        CheckReduce(x, "Norm");
        if (!(p >= 1))
            throw new ArgumentOutOfRangeException(nameof(p), $"Norm: p must be at least 1 or +infinity, got {p}");
        var axes = NormalizeDims(x.Shape, dims);
        if (p == 1)
        {
            using var abs = UnaryForward(UnaryOp.Abs, x);
            return Sum(abs, axes, keepDim);
        }
        if (double.IsPositiveInfinity(p)) return MaxAbs(x, axes, keepDim);

        Tensor kept;
        using (GradMode.Disable())
        {
            // (x...) -> Σ |x|^p over axes (kept as 1) -> ^(1/p)
            using var powered = p == 2 ? UnaryForward(UnaryOp.Square, x) : PowAbs(x, p);
            using var sum = Sum(powered, axes, keepDim: true);
            kept = p == 2 ? UnaryForward(UnaryOp.Sqrt, sum) : UnaryForward(UnaryOp.PowScalar, sum, 1.0 / p);
        }
        var node = Graph.IsRecording(x) ? new VectorNormNode(x, kept, p) : null;
        var y = DropKeptDims(kept, x.Shape, axes, keepDim);
        if (node is not null) Graph.Attach(y, node, x);
        return y;
    }

    /// <summary>|x|^p (no graph).</summary>
    private static Tensor PowAbs(Tensor x, double p)
    {
        using var abs = UnaryForward(UnaryOp.Abs, x);
        return UnaryForward(UnaryOp.PowScalar, abs, p);
    }

    /// <summary>max |x| over the axes, one axis at a time from the last, recorded through Abs and Max.</summary>
    private static Tensor MaxAbs(Tensor x, int[] axes, bool keepDim)
    {
        if (x.Numel == 0)
            throw new ArgumentException($"Norm: the infinity norm of the empty tensor {x.Shape} is undefined");
        var cur = UnaryForward(UnaryOp.Abs, x);
        foreach (int a in axes.OrderByDescending(a => a))
        {
            var (values, indices) = Max(cur, a, keepDim: true);
            indices.Dispose();
            cur.Dispose();
            cur = values;
        }
        if (keepDim) return cur;
        using (cur) return Reshape(cur, DropDims(x.Shape, axes));
    }

    private sealed class VectorNormNode : GradNode
    {
        private readonly SavedTensor _x, _norm;
        private readonly double _p;

        /// <param name="norm">The result with the reduced dimensions kept as size 1.</param>
        public VectorNormNode(Tensor x, Tensor norm, double p)
        {
            _x = Save(x);
            _norm = Save(norm);
            _p = p;
        }

        public override string Name => "Norm";

        public override Tensor?[] Backward(Tensor g)
        {
            var x = _x.Value;
            var norm = _norm.Value;
            using var gk = Reshape(g, norm.Shape.ToArray()); // (reduced) -> (kept), broadcasts over x
            if (_p == 2)
            {
                // dx = x · g / ‖x‖
                using var scale = DivOrZero(gk, norm);
                return [Mul(x, scale)];
            }
            // dx = sign(x) |x|^(p-1) · g / ‖x‖^(p-1)
            using var normPow = UnaryForward(UnaryOp.PowScalar, norm, _p - 1);
            using var scaleP = DivOrZero(gk, normPow);
            using var sign = UnaryForward(UnaryOp.Sign, x);
            using var absPow = PowAbs(x, _p - 1);
            using var direction = Mul(sign, absPow);
            return [Mul(direction, scaleP)];
        }
    }
}
