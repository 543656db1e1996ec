namespace PeftEngine.Nn.Optim;

/// <summary>Rescaling of gradients to bound their overall size.</summary>
public static class GradClip
{
    /// <summary>
    /// Computes the norm of all gradients together (as if concatenated into one vector) and, when it exceeds
    /// <paramref name="maxNorm"/>, scales every gradient by maxNorm / (norm + 1e-6). Returns the norm before
    /// clipping. <paramref name="normType"/> is p of the p-norm (∞ for the largest magnitude).
    /// </summary>
    /// <remarks>PyTorch: torch.nn.utils.clip_grad_norm_(parameters, max_norm, norm_type=2.0) (returns a tensor
    /// there, a double here). Parameters without a gradient are ignored; no gradients give a norm of 0.</remarks>
    public static double ClipGradNorm(IEnumerable<Parameter> parameters, double maxNorm, double normType = 2)
    {
        if (!(normType > 0)) throw new ArgumentOutOfRangeException(nameof(normType), $"ClipGradNorm: norm type must be positive, got {normType}");
        var grads = parameters.Select(p => p.Grad).OfType<Tensor>().ToList();
        if (grads.Count == 0) return 0;
        double total;
        using (GradMode.Disable())
        {
            var norms = grads.Select(g => { using var n = Ops.Norm(g, normType); return n.Item(); }).ToList();
            total = double.IsPositiveInfinity(normType)
                ? norms.Max()
                : Math.Pow(norms.Sum(n => Math.Pow(n, normType)), 1 / normType);   // ‖(‖g₁‖, ‖g₂‖, …)‖_p
            double coef = maxNorm / (total + 1e-6);
            if (coef < 1)
                foreach (var g in grads) Ops.MulInPlace(g, coef);
        }
        return total;
    }
}
