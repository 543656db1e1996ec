namespace PeftEngine.Nn.Optim;

/// <summary>
/// Adam, and with <c>decoupled</c> weight decay AdamW. The update of step t (β₁, β₂, ε, learning rate lr):
/// <code>
/// AdamW: p ← p · (1 − lr·wd)                 Adam: g ← g + wd·p
/// m ← β₁ m + (1 − β₁) g                      v ← β₂ v + (1 − β₂) g²
/// p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
/// </code>
/// </summary>
/// <remarks>PyTorch: torch.optim.Adam / torch.optim.AdamW (amsgrad=False, maximize=False), the same formulas
/// in the same order. State per parameter: "exp_avg" (m), "exp_avg_sq" (v) and the step count.
/// Kingma and Ba 2015; Loshchilov and Hutter 2019 (decoupled weight decay).</remarks>
public class Adam : Optimizer
{
    /// <summary>One group over <paramref name="parameters"/>.</summary>
    public Adam(IEnumerable<Parameter> parameters, double lr = 1e-3, (double Beta1, double Beta2)? betas = null,
        double eps = 1e-8, double weightDecay = 0)
        : this([new ParamGroup(parameters)], lr, betas, eps, weightDecay) { }

    /// <summary>Several groups; unset group values take these defaults.</summary>
    public Adam(IEnumerable<ParamGroup> groups, double lr = 1e-3, (double Beta1, double Beta2)? betas = null,
        double eps = 1e-8, double weightDecay = 0)
        : this(groups, lr, betas, eps, weightDecay, decoupled: false) { }

    /// <summary>Shared constructor of Adam and AdamW.</summary>
    protected Adam(IEnumerable<ParamGroup> groups, double lr, (double Beta1, double Beta2)? betas, double eps,
        double weightDecay, bool decoupled) : base(groups, lr, weightDecay)
    {
        var (b1, b2) = AdamHyperparameters.Check(GetType().Name, betas, eps);
        Beta1 = b1;
        Beta2 = b2;
        Eps = eps;
        Decoupled = decoupled;
    }

    /// <summary>Decay of the first moment.</summary>
    public double Beta1 { get; }

    /// <summary>Decay of the second moment.</summary>
    public double Beta2 { get; }

    /// <summary>Added to the denominator.</summary>
    public double Eps { get; }

    /// <summary>True for AdamW (decay applied to the weights), false for Adam (decay added to the gradient).</summary>
    public bool Decoupled { get; }

    /// <summary>AdamW only: run the update as one fused kernel (default) rather than the step-by-step tensor
    /// arithmetic that spells out the formula. Both compute the same update.</summary>
    public bool UseFusedKernel { get; init; } = true;

    /// <inheritdoc/>
    protected override void Update(ParamGroup group, Tensor param, Tensor grad, ParamState state)
    {
        double lr = group.Lr, wd = group.WeightDecay;
        long t = state.Step;
        var m = StateTensor(state, "exp_avg", param);
        var v = StateTensor(state, "exp_avg_sq", param);
        if (Decoupled && UseFusedKernel)
        {
            // The same update as the lines below, in one pass over memory (IBackend.AdamWStep).
            Ops.AdamWStepInPlace(param, grad, m, v, lr, Beta1, Beta2, Eps, wd, t);
            return;
        }

        using var g = Ops.Clone(grad);
        if (wd != 0)
        {
            if (Decoupled) Ops.MulInPlace(param, 1 - lr * wd);                               // p ← p·(1 − lr·wd)
            else using (var decay = Ops.Mul(param, wd)) Ops.AddInPlace(g, decay);            // g ← g + wd·p
        }

        Ops.MulInPlace(m, Beta1);                                   // m ← β₁ m + (1 − β₁) g
        using (var part = Ops.Mul(g, 1 - Beta1)) Ops.AddInPlace(m, part);
        Ops.MulInPlace(v, Beta2);                                   // v ← β₂ v + (1 − β₂) g²
        using (var g2 = Ops.Mul(g, g))
        {
            Ops.MulInPlace(g2, 1 - Beta2);
            Ops.AddInPlace(v, g2);
        }

        double bias1 = 1 - Math.Pow(Beta1, t), bias2 = 1 - Math.Pow(Beta2, t);
        double stepSize = lr / bias1;
        using var root = Ops.Sqrt(v);
        Ops.MulInPlace(root, 1 / Math.Sqrt(bias2));                 // √v / √(1 − β₂ᵗ)
        using var denom = Ops.Add(root, Eps);                       //   + ε
        using var update = Ops.Div(m, denom);
        Ops.MulInPlace(update, stepSize);
        Ops.SubInPlace(param, update);                              // p ← p − step · m / denom
    }
}

/// <summary>Adam with decoupled weight decay (default 0.01).</summary>
/// <remarks>PyTorch: torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01).
/// See <see cref="Adam"/> for the update.</remarks>
public sealed class AdamW : Adam
{
    /// <summary>One group over <paramref name="parameters"/>.</summary>
    public AdamW(IEnumerable<Parameter> parameters, double lr = 1e-3, (double Beta1, double Beta2)? betas = null,
        double eps = 1e-8, double weightDecay = 0.01)
        : base([new ParamGroup(parameters)], lr, betas, eps, weightDecay, decoupled: true) { }

    /// <summary>Several groups; unset group values take these defaults.</summary>
    public AdamW(IEnumerable<ParamGroup> groups, double lr = 1e-3, (double Beta1, double Beta2)? betas = null,
        double eps = 1e-8, double weightDecay = 0.01)
        : base(groups, lr, betas, eps, weightDecay, decoupled: true) { }
}
