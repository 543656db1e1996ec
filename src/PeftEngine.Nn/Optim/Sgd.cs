namespace PeftEngine.Nn.Optim;

/// <summary>Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and (coupled,
/// L2) weight decay.</summary>
/// <remarks>
/// PyTorch: torch.optim.SGD, same update per step:
/// g ← grad + wd·p; if momentum μ ≠ 0: b ← g on the first step, else b ← μ·b + (1 − dampening)·g;
/// g ← g + μ·b (Nesterov) or g ← b; then p ← p − lr·g.
/// </remarks>
public sealed class Sgd : Optimizer
{
    /// <summary>One group over <paramref name="parameters"/>.</summary>
    public Sgd(IEnumerable<Parameter> parameters, double lr = 1e-3, double momentum = 0, double dampening = 0,
        double weightDecay = 0, bool nesterov = false)
        : this([new ParamGroup(parameters)], lr, momentum, dampening, weightDecay, nesterov) { }

    /// <summary>Several groups; unset group values take these defaults.</summary>
    public Sgd(IEnumerable<ParamGroup> groups, double lr = 1e-3, double momentum = 0, double dampening = 0,
        double weightDecay = 0, bool nesterov = false) : base(groups, lr, weightDecay)
    {
        if (momentum < 0) throw new ArgumentOutOfRangeException(nameof(momentum), $"Sgd: momentum must be >= 0, got {momentum}");
        if (nesterov && (momentum <= 0 || dampening != 0))
            throw new ArgumentException("Sgd: Nesterov momentum requires momentum > 0 and dampening = 0");
        Momentum = momentum;
        Dampening = dampening;
        Nesterov = nesterov;
    }

    /// <summary>μ.</summary>
    public double Momentum { get; }

    /// <summary>Fraction of the new gradient withheld from the momentum buffer.</summary>
    public double Dampening { get; }

    /// <summary>Whether to use Nesterov momentum.</summary>
    public bool Nesterov { get; }

    /// <inheritdoc/>
    protected override void Update(ParamGroup group, Tensor param, Tensor grad, ParamState state)
    {
        using var g = Ops.Clone(grad);                     // g ← grad
        if (group.WeightDecay != 0)
            using (var decay = Ops.Mul(param, group.WeightDecay)) Ops.AddInPlace(g, decay);   // g ← g + wd·p
        if (Momentum != 0)
        {
            bool first = !state.Tensors.ContainsKey("momentum_buffer");
            var buf = StateTensor(state, "momentum_buffer", param);
            if (first) Ops.CopyInPlace(buf, g);            // b ← g
            else
            {
                Ops.MulInPlace(buf, Momentum);             // b ← μ·b + (1 − dampening)·g
                using var part = Ops.Mul(g, 1 - Dampening);
                Ops.AddInPlace(buf, part);
            }
            if (Nesterov)
                using (var mb = Ops.Mul(buf, Momentum)) Ops.AddInPlace(g, mb);   // g ← g + μ·b
            else Ops.CopyInPlace(g, buf);                                         // g ← b
        }
        Ops.MulInPlace(g, group.Lr);
        Ops.SubInPlace(param, g);                          // p ← p − lr·g
    }
}
