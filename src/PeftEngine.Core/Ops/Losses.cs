namespace PeftEngine;

/// <summary>How a loss turns per-element losses into its result.</summary>
/// <remarks>PyTorch: the reduction='none' | 'mean' | 'sum' argument of the loss functions.</remarks>
public enum LossReduction
{
    /// <summary>One loss per element (per row for cross-entropy).</summary>
    None,
    /// <summary>The mean (for cross-entropy: over the targets that are not ignored).</summary>
    Mean,
    /// <summary>The sum.</summary>
    Sum,
}

/// <summary>
/// Losses: cross-entropy over logits (one fused kernel each way) and mean squared error (composed of
/// arithmetic and sum ops).
/// </summary>
/// <remarks>
/// Cross-entropy with label smoothing ε over C classes, per row with target t:
/// loss = -(1 - ε) log p_t - (ε / C) Σ_c log p_c = lse - (1 - ε) x_t - (ε / C) Σ_c x_c, lse = log Σ_c exp(x_c).
/// Backward: dx_c = g (p_c - (1 - ε) [c = t] - ε / C), with p = exp(x - lse) recomputed from the logits:
/// only the per-row lse is kept, never the full (N, C) probabilities.
/// </remarks>
public static partial class Ops
{
    /// <summary>
    /// Cross-entropy between <paramref name="logits"/> (…, C) and class indices <paramref name="targets"/> (…),
    /// an I64 tensor shaped like logits without its last dimension: (N, C) with (N), or (B, T, C) with (B, T).
    /// Rows whose target is <paramref name="ignoreIndex"/> contribute nothing, and the mean is taken over the
    /// other rows (NaN when every row is ignored).
    /// </summary>
    /// <remarks>PyTorch: torch.nn.functional.cross_entropy(logits, targets, ignore_index=-100,
    /// label_smoothing=0, reduction='mean'), with the class dimension last (PyTorch puts it second for
    /// inputs of more than two dimensions; HF models flatten (B, T, C) to (B*T, C) first, which this op does
    /// for you). The mean reads the targets on the host to count the rows that are not ignored.</remarks>
    public static Tensor CrossEntropy(Tensor logits, Tensor targets, long ignoreIndex = -100, double labelSmoothing = 0,
        LossReduction reduction = LossReduction.Mean)
    {
        logits.ThrowIfDisposed();
        targets.ThrowIfDisposed();
        DTypes.RequireCompute(logits, "CrossEntropy");
        CheckSameDevice(logits, targets, "CrossEntropy");
        if (targets.DType != DType.I64)
            throw new ArgumentException($"CrossEntropy: targets must be i64 class indices, got {targets.DType.Name()} {targets.Shape}");
        if (logits.Rank == 0 || targets.Rank != logits.Rank - 1 || !targets.Shape.Dims.SequenceEqual(logits.Shape.Dims[..^1]))
            throw new ArgumentException($"CrossEntropy: targets {targets.Shape} must have the shape of logits {logits.Shape} without the last (class) dimension");
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), $"CrossEntropy: label smoothing {labelSmoothing} is outside [0, 1]");

        int c = logits.Shape[-1];
        using var x2 = ReshapeNoGrad(ContiguousNoGrad(logits), -1, c);   // (…, C) -> (N, C)
        using var t1 = ReshapeNoGrad(ContiguousNoGrad(targets), -1);      // (…) -> (N)
        int rows = x2.Shape[0];
        var loss = Tensor.Empty(new Shape(rows), logits.DType, logits.Device);
        using var lse = Tensor.Empty(new Shape(rows), logits.DType, logits.Device);
        logits.Backend.CrossEntropy(x2, t1, ignoreIndex, labelSmoothing, loss, lse);
        if (Graph.IsRecording(logits))
            Graph.Attach(loss, new CrossEntropyNode(x2, t1, lse, ignoreIndex, labelSmoothing, logits.Shape), logits);

        using (loss)
        {
            switch (reduction)
            {
                case LossReduction.None:
                    return Reshape(loss, targets.Shape.ToArray());   // (N) -> (…)
                case LossReduction.Sum:
                    return Sum(loss);
                case LossReduction.Mean:
                    long counted = 0;
                    foreach (long t in t1.ToArray<long>()) if (t != ignoreIndex) counted++;
                    using (var total = Sum(loss))
                        return Mul(total, 1.0 / counted);   // 0 * inf = NaN when every target is ignored
                default:
                    throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "CrossEntropy: unknown reduction");
            }
        }
    }

    /// <summary>Mean squared error: (input - target)², reduced as asked. The shapes must be equal.</summary>
    /// <remarks>PyTorch: torch.nn.functional.mse_loss(input, target, reduction='mean'). Gradients flow to both
    /// sides: d/dinput = 2 (input - target), scaled by 1/numel for the mean.</remarks>
    public static Tensor MseLoss(Tensor input, Tensor target, LossReduction reduction = LossReduction.Mean)
    {
        input.ThrowIfDisposed();
        target.ThrowIfDisposed();
        if (input.Shape != target.Shape)
            throw new ArgumentException($"MseLoss: input {input.Shape} and target {target.Shape} must have the same shape");
        using var diff = Sub(input, target);
        var squared = Mul(diff, diff);
        if (reduction == LossReduction.None) return squared;
        using (squared)
            return reduction == LossReduction.Sum ? Sum(squared) : Mean(squared);
    }

    private sealed class CrossEntropyNode : GradNode
    {
        private readonly SavedTensor _logits, _targets, _lse;   // (N, C), (N), (N)
        private readonly long _ignoreIndex;
        private readonly double _labelSmoothing;
        private readonly Shape _logitsShape;

        public CrossEntropyNode(Tensor logits2, Tensor targets1, Tensor lse, long ignoreIndex, double labelSmoothing, Shape logitsShape)
        {
            _logits = Save(logits2);
            _targets = Save(targets1);
            _lse = Save(lse);
            _ignoreIndex = ignoreIndex;
            _labelSmoothing = labelSmoothing;
            _logitsShape = logitsShape;
        }

        public override Tensor?[] Backward(Tensor g)
        {
            var x = _logits.Value;
            using var gc = ContiguousNoGrad(g);
            using var dx = Tensor.EmptyLike(x);
            x.Backend.CrossEntropyBackward(x, _targets.Value, _lse.Value, gc, _ignoreIndex, _labelSmoothing, dx);
            return [ReshapeNoGrad(dx.Alias(), _logitsShape.ToArray())];   // (N, C) -> (…, C)
        }
    }
}
