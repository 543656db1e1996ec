namespace PeftEngine;

/// <summary>Variance and standard deviation over dimensions, with Bessel's correction.</summary>
/// <remarks>
/// var = Σ (x - mean)² / max(0, N - correction), where N counts the elements reduced over. correction = 1 (the
/// default, as in PyTorch) gives the unbiased sample variance, 0 the population variance. When the divisor is 0
/// the result is NaN (N = 1) or +∞. The forward is two-pass (mean first), which stays accurate when the mean
/// is large compared to the spread.
/// Backward: dvar/dx = 2 (x - mean) / (N - correction); dstd/dx = (x - mean) / ((N - correction) · std), taken
/// as 0 where std = 0 (a constant slice), as PyTorch does.
/// </remarks>
public static partial class Ops
{
    /// <summary>The variance of all elements (unbiased).</summary>
    /// <remarks>PyTorch: torch.var(x).</remarks>
    public static Tensor Var(Tensor x) => VarOrStd(x, null, keepDim: false, correction: 1, std: false);

    /// <summary>The variance over <paramref name="dims"/> (all when null).</summary>
    /// <remarks>PyTorch: torch.var(x, dim, correction=correction, keepdim=keepDim).</remarks>
    public static Tensor Var(Tensor x, int[]? dims, bool keepDim = false, double correction = 1) =>
        VarOrStd(x, dims, keepDim, correction, std: false);

    /// <summary>The variance over one dimension.</summary>
    public static Tensor Var(Tensor x, int dim, bool keepDim = false, double correction = 1) =>
        VarOrStd(x, [dim], keepDim, correction, std: false);

    /// <summary>The standard deviation of all elements (unbiased).</summary>
    /// <remarks>PyTorch: torch.std(x).</remarks>
    public static Tensor Std(Tensor x) => VarOrStd(x, null, keepDim: false, correction: 1, std: true);

    /// <summary>The standard deviation over <paramref name="dims"/> (all when null).</summary>
    /// <remarks>PyTorch: torch.std(x, dim, correction=correction, keepdim=keepDim).</remarks>
    public static Tensor Std(Tensor x, int[]? dims, bool keepDim = false, double correction = 1) =>
        VarOrStd(x, dims, keepDim, correction, std: true);

    /// <summary>The standard deviation over one dimension.</summary>
    public static Tensor Std(Tensor x, int dim, bool keepDim = false, double correction = 1) =>
        VarOrStd(x, [dim], keepDim, correction, std: true);

    private static Tensor VarOrStd(Tensor x, int[]? dims, bool keepDim, double correction, bool std)
    {
        string name = std ? "Std" : "Var";
        CheckReduce(x, name);
        if (double.IsNaN(correction) || correction < 0)
            throw new ArgumentOutOfRangeException(nameof(correction), $"{name}: correction must be >= 0, got {correction}");
        var axes = NormalizeDims(x.Shape, dims);
        long count = 1;
        foreach (int a in axes) count *= x.Shape[a];
        double divisor = Math.Max(0, count - correction);

        Tensor mean, result;
        using (GradMode.Disable())
        {
            // (x...) -> mean (x... with axes kept as 1) -> Σ (x - mean)² / divisor
            mean = Mean(x, axes, keepDim: true);
            using var centered = Sub(x, mean);
            using var squared = Mul(centered, centered);
            using var sum = Sum(squared, axes, keepDim: true);
            result = Mul(sum, 1.0 / divisor);
            if (std)
            {
                var root = UnaryForward(UnaryOp.Sqrt, result);
                result.Dispose();
                result = root;
            }
        }
        var node = Graph.IsRecording(x) ? new VarStdNode(name, x, mean, std ? result : null, divisor) : null;
        mean.Dispose();
        var y = DropKeptDims(result, x.Shape, axes, keepDim);
        if (node is not null) Graph.Attach(y, node, x);
        return y;
    }

    /// <summary>num / den where den &gt; 0 and 0 where den = 0 (den must not be negative), elementwise with
    /// broadcasting; used where a zero denominator means a zero gradient. No graph.</summary>
    internal static Tensor DivOrZero(Tensor num, Tensor den)
    {
        using (GradMode.Disable())
        {
            // s = sign(den) is 1 or 0 exactly, so den + (1 - s) is den itself where den > 0 and 1 where it is 0.
            using var s = UnaryForward(UnaryOp.Sign, den);
            using var negS = Neg(s);
            using var oneMinusS = Add(negS, 1.0);
            using var safeDen = Add(den, oneMinusS);
            using var masked = Mul(num, s);
            return Div(masked, safeDen);
        }
    }

    private sealed class VarStdNode : GradNode
    {
        private readonly string _name;
        private readonly SavedTensor _x, _mean;
        private readonly SavedTensor? _std;
        private readonly double _divisor;

        /// <param name="mean">The mean with the reduced dimensions kept as size 1.</param>
        /// <param name="std">For Std: the result, dimensions kept; null for Var.</param>
        public VarStdNode(string name, Tensor x, Tensor mean, Tensor? std, double divisor)
        {
            _name = name;
            _x = Save(x);
            _mean = Save(mean);
            if (std is not null) _std = Save(std);
            _divisor = divisor;
        }

        public override string Name => _name;

        public override Tensor?[] Backward(Tensor g)
        {
            var mean = _mean.Value;
            using var gk = Reshape(g, mean.Shape.ToArray()); // (reduced) -> (kept), broadcasts over x
            using var centered = Sub(_x.Value, mean);
            if (_std is null)
            {
                // dx = g · 2 (x - mean) / divisor
                using var scale = Mul(gk, 2.0 / _divisor);
                return [Mul(centered, scale)];
            }
            // dx = g · (x - mean) / (divisor · std), 0 where std = 0
            using var perStd = DivOrZero(gk, _std.Value);
            using var scaled = Mul(perStd, 1.0 / _divisor);
            return [Mul(centered, scaled)];
        }
    }
}
