namespace PeftEngine;

/// <summary>
/// Layer normalisation and RMS normalisation over the trailing dimensions, each as one fused kernel with a
/// hand-written backward. Only the gradients that some input needs are computed.
/// </summary>
/// <remarks>
/// LayerNorm (Ba et al. 2016): y = (x - μ) / sqrt(σ² + ε) * w + b, μ and σ² the mean and biased variance of the row.
/// RMSNorm (Zhang and Sennrich 2019): y = x / sqrt(mean(x²) + ε) * w.
/// With x̂ the normalised row, rstd = 1 / sqrt(… + ε) and g = dy * w, the backward is
/// dx = rstd (g - mean(g) - x̂ mean(g x̂)) for LayerNorm and dx = rstd (g - x̂ mean(g x̂)) for RMSNorm;
/// dw = Σ_rows dy x̂; db = Σ_rows dy. The forward saves μ and rstd per row (not x̂).
/// </remarks>
public static partial class Ops
{
    /// <summary>
    /// Normalises x over its trailing dimensions <paramref name="normalizedShape"/> (default: the shape of
    /// <paramref name="weight"/> or <paramref name="bias"/>, else the last dimension), then scales by weight and
    /// shifts by bias when given (both of shape normalizedShape).
    /// </summary>
    /// <remarks>PyTorch: torch.nn.functional.layer_norm(x, normalized_shape, weight, bias, eps).</remarks>
    public static Tensor LayerNorm(Tensor x, int[]? normalizedShape = null, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        x.ThrowIfDisposed();
        DTypes.RequireCompute(x, "LayerNorm");
        Shape norm;
        if (normalizedShape is not null) norm = new Shape(normalizedShape);
        else if (weight is not null) norm = weight.Shape;
        else if (bias is not null) norm = bias.Shape;
        else if (x.Rank > 0) norm = new Shape(x.Shape[-1]);
        else throw new ArgumentException("LayerNorm: needs a tensor with at least one dimension, got a scalar");
        int n = CheckNormInputs("LayerNorm", x, norm, weight, bias);
        using var x2 = ReshapeNoGrad(ContiguousNoGrad(x), -1, n);   // (…, normalized…) -> (rows, n)
        using var w = weight is null ? null : ReshapeNoGrad(ContiguousNoGrad(weight), n);
        using var b = bias is null ? null : ReshapeNoGrad(ContiguousNoGrad(bias), n);
        using var y = Tensor.EmptyLike(x2);
        using var mean = Tensor.Empty(new Shape(x2.Shape[0]), x.DType, x.Device);
        using var rstd = Tensor.Empty(new Shape(x2.Shape[0]), x.DType, x.Device);
        x.Backend.LayerNorm(x2, w, b, eps, y, mean, rstd);
        var result = ReshapeNoGrad(y.Alias(), x.Shape.ToArray());
        if (Graph.IsRecording(x, weight, bias))
            Graph.Attach(result, new NormalizationNode(x, weight, bias, x2, w, mean, rstd), x, weight, bias);
        return result;
    }

    /// <summary>
    /// Scales each row of x (over the last dimension) to unit root-mean-square, then by <paramref name="weight"/>
    /// (shape (D)) when given.
    /// </summary>
    /// <remarks>PyTorch: torch.nn.functional.rms_norm(x, (D,), weight, eps); HF LlamaRMSNorm (eps 1e-6).</remarks>
    public static Tensor RmsNorm(Tensor x, Tensor? weight = null, double eps = 1e-6)
    {
        x.ThrowIfDisposed();
        DTypes.RequireCompute(x, "RmsNorm");
        if (x.Rank == 0) throw new ArgumentException("RmsNorm: needs a tensor with at least one dimension, got a scalar");
        int n = CheckNormInputs("RmsNorm", x, new Shape(x.Shape[-1]), weight, null);
        using var x2 = ReshapeNoGrad(ContiguousNoGrad(x), -1, n);   // (…, D) -> (rows, D)
        using var w = weight is null ? null : ReshapeNoGrad(ContiguousNoGrad(weight), n);
        using var y = Tensor.EmptyLike(x2);
        using var rstd = Tensor.Empty(new Shape(x2.Shape[0]), x.DType, x.Device);
        x.Backend.RmsNorm(x2, w, eps, y, rstd);
        var result = ReshapeNoGrad(y.Alias(), x.Shape.ToArray());
        if (Graph.IsRecording([x, weight]))
            Graph.Attach(result, new NormalizationNode(x, weight, null, x2, w, null, rstd), x, weight);
        return result;
    }

    /// <summary>Checks x ends with <paramref name="norm"/> and weight/bias have that shape; returns its element count.</summary>
    private static int CheckNormInputs(string op, Tensor x, Shape norm, Tensor? weight, Tensor? bias)
    {
        if (norm.Rank == 0 || norm.Rank > x.Rank)
            throw new ArgumentException($"{op}: normalized shape {norm} does not fit input {x.Shape}");
        for (int i = 1; i <= norm.Rank; i++)
            if (x.Shape[-i] != norm[-i])
                throw new ArgumentException($"{op}: input {x.Shape} does not end with the normalized shape {norm}");
        foreach (var (t, name) in new[] { (weight, "weight"), (bias, "bias") })
        {
            if (t is null) continue;
            CheckSameDevice(x, t, op);
            if (t.Shape != norm) throw new ArgumentException($"{op}: {name} has shape {t.Shape}, expected the normalized shape {norm}");
            if (t.DType != x.DType) throw new ArgumentException($"{op}: {name} is {t.DType.Name()} but the input is {x.DType.Name()}; cast one with .To(dtype)");
        }
        if (norm.Numel == 0) throw new ArgumentException($"{op}: normalized shape {norm} has no elements");
        return (int)norm.Numel;
    }

    /// <summary>Reshapes without recording and disposes <paramref name="x"/> (for chaining on temporaries).</summary>
    private static Tensor ReshapeNoGrad(Tensor x, params int[] shape)
    {
        using (x)
        using (GradMode.Disable())
            return Reshape(x, shape);
    }

    /// <summary>Backward of LayerNorm (mean saved) and RmsNorm (mean null). Inputs: x, weight, bias.</summary>
    private sealed class NormalizationNode : GradNode
    {
        private readonly SavedTensor _x2, _rstd;                 // x as (rows, n); 1/sqrt(var + eps) per row
        private readonly SavedTensor? _w, _mean;                 // weight as (n); mean per row (LayerNorm only)
        private readonly Shape _xShape;
        private readonly Shape? _wShape, _bShape;

        public NormalizationNode(Tensor x, Tensor? weight, Tensor? bias, Tensor x2, Tensor? w, Tensor? mean, Tensor rstd)
        {
            _x2 = Save(x2);
            _rstd = Save(rstd);
            if (mean is not null) _mean = Save(mean);
            if (w is not null && x.RequiresGrad) _w = Save(w);   // dx needs the weight; dw and db do not
            _xShape = x.Shape;
            _wShape = weight?.Shape;
            _bShape = bias?.Shape;
        }

        public override string Name => _mean is null ? "RmsNorm" : "LayerNorm";

        public override Tensor?[] Backward(Tensor g)
        {
            var x2 = _x2.Value;
            int n = x2.Shape[1];
            using var g2 = ReshapeNoGrad(ContiguousNoGrad(g), -1, n);   // (…) -> (rows, n)
            using var dx = NeedsGrad(0) ? Tensor.EmptyLike(x2) : null;
            using var dw = NeedsGrad(1) ? Tensor.Empty(new Shape(n), x2.DType, x2.Device) : null;
            using var db = NeedsGrad(2) ? Tensor.Empty(new Shape(n), x2.DType, x2.Device) : null;
            if (_mean is not null)
                x2.Backend.LayerNormBackward(x2, _w?.Value, _mean.Value, _rstd.Value, g2, dx, dw, db);
            else
                x2.Backend.RmsNormBackward(x2, _w?.Value, _rstd.Value, g2, dx, dw);
            return
            [
                dx is null ? null : ReshapeNoGrad(dx.Alias(), _xShape.ToArray()),
                dw is null ? null : ReshapeNoGrad(dw.Alias(), _wShape!.Value.ToArray()),
                db is null ? null : ReshapeNoGrad(db.Alias(), _bShape!.Value.ToArray()),
            ];
        }
    }
}
