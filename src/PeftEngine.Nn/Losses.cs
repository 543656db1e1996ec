namespace PeftEngine.Nn;

/// <summary>How <see cref="Losses.KlDiv"/> reduces its per-element values.</summary>
/// <remarks>PyTorch: the reduction argument of kl_div.</remarks>
public enum KlReduction
{
    /// <summary>Per element.</summary>
    None,
    /// <summary>Mean over all elements (PyTorch's default, which it warns is not the true KL divergence).</summary>
    Mean,
    /// <summary>Sum over all elements.</summary>
    Sum,
    /// <summary>Sum divided by the batch size (the first dimension): the mathematically correct KL per sample.</summary>
    BatchMean,
}

/// <summary>Loss functions for training.</summary>
public static class Losses
{
    /// <summary>Cross-entropy of logits (…, C) against I64 class indices (…).</summary>
    /// <remarks>PyTorch: torch.nn.functional.cross_entropy (class dimension last here); see
    /// <see cref="Ops.CrossEntropy"/>.</remarks>
    public static Tensor CrossEntropy(Tensor logits, Tensor targets, long ignoreIndex = -100, double labelSmoothing = 0,
        LossReduction reduction = LossReduction.Mean) =>
        Ops.CrossEntropy(logits, targets, ignoreIndex, labelSmoothing, reduction);

    /// <summary>Mean squared error.</summary>
    /// <remarks>PyTorch: torch.nn.functional.mse_loss.</remarks>
    public static Tensor Mse(Tensor input, Tensor target, LossReduction reduction = LossReduction.Mean) =>
        Ops.MseLoss(input, target, reduction);

    /// <summary>
    /// Kullback–Leibler divergence KL(target ‖ model) where <paramref name="input"/> holds the model's
    /// log-probabilities and <paramref name="target"/> the target's probabilities (or log-probabilities when
    /// <paramref name="logTarget"/>). Per element: target · (log target − input), 0 where target is 0; with
    /// log targets: exp(target) · (target − input).
    /// </summary>
    /// <remarks>PyTorch: torch.nn.functional.kl_div(input, target, reduction='mean', log_target=False).
    /// Backward: d/d input = −target (−exp(target) for log targets); d/d target = log target − input + 1
    /// (exp(target)·(target − input + 1) for log targets).</remarks>
    public static Tensor KlDiv(Tensor input, Tensor target, KlReduction reduction = KlReduction.Mean, bool logTarget = false)
    {
        if (input.Shape != target.Shape)
            throw new ArgumentException($"KlDiv: input {input.Shape} and target {target.Shape} must have the same shape");
        Tensor pointwise;
        if (logTarget)
        {
            using var p = Ops.Exp(target);
            using var diff = Ops.Sub(target, input);
            pointwise = Ops.Mul(p, diff);
        }
        else
        {
            // log of target where it is positive, 0 elsewhere, so 0 · log 0 counts as 0 without NaN gradients.
            using var positive = Ops.Gt(target, 0);
            using var safe = Ops.Where(positive, target, 1.0);
            using var logT = Ops.Log(safe);
            using var diff = Ops.Sub(logT, input);
            pointwise = Ops.Mul(target, diff);
        }
        switch (reduction)
        {
            case KlReduction.None: return pointwise;
            case KlReduction.Sum: using (pointwise) return Ops.Sum(pointwise);
            case KlReduction.Mean: using (pointwise) return Ops.Mean(pointwise);
            case KlReduction.BatchMean:
                if (input.Rank == 0) throw new ArgumentException("KlDiv: batchmean needs a batch dimension, got a scalar");
                using (pointwise)
                using (var sum = Ops.Sum(pointwise))
                    return Ops.Mul(sum, 1.0 / input.Shape[0]);
            default: throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "KlDiv: unknown reduction");
        }
    }
}
