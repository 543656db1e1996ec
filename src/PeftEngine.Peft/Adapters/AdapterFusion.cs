// AdapterFusion (Pfeiffer et al., "AdapterFusion: Non-Destructive Task Composition for Transfer Learning",
// EACL 2021, arXiv:2005.00247): at one adapted sub-layer with output h ∈ R^d and the outputs z_1 … z_N of N trained,
// frozen adapters (their up-projections, without the residual),
//
//     q = h·W_Qᵀ + b_Q,   k_n = z_n·W_Kᵀ + b_K,   v_n = z_n·W_Vᵀ,
//     s = softmax_n(q·k_n / T),   h ← h + Σ_n s_n·v_n,
//
// so a fusion whose scores pick one adapter n reproduces that adapter alone (W_V = I). W_Q and W_K start as
// N(0, 0.02²) with zero biases, W_V as the identity with 1e-6 off the diagonal (AdapterHub's value_initialized).
// Only W_Q, b_Q, W_K, b_K and W_V train: 3d² + 2d parameters per sub-layer.

using PeftEngine.Nn;

namespace PeftEngine.Peft.Adapters;

/// <summary>The fusion parameters of one sub-layer: <c>query</c>, <c>key</c> (with biases) and <c>value</c> (without).</summary>
/// <remarks>AdapterHub: <c>adapters.modeling.BertFusion</c> with the "dynamic" config (value_before_softmax).</remarks>
public sealed class AdapterFusion : Module
{
    /// <summary>Creates the projections for width <paramref name="d"/> (F32).</summary>
    public AdapterFusion(int d, Generator? generator)
    {
        var query = RegisterModule("query", new Linear(d, d, bias: true, generator: generator));
        var key = RegisterModule("key", new Linear(d, d, bias: true, generator: generator));
        var value = RegisterModule("value", new Linear(d, d, bias: false, generator: generator));
        Init.Normal(query.Weight, 0, 0.02, generator);
        Init.Normal(key.Weight, 0, 0.02, generator);
        using (GradMode.Disable())
        {
            Ops.FillInPlace(query.Bias!, 0);
            Ops.FillInPlace(key.Bias!, 0);
            var w = new float[d * d];
            for (int i = 0; i < w.Length; i++) w[i] = i / d == i % d ? 1f : 1e-6f;   // I + 1e-6 off the diagonal
            using var init = Tensor.FromArray(w, d, d);
            Ops.CopyInPlace(value.Weight, init);
        }
        Width = d;
    }

    /// <summary>The width d of h and of every z_n.</summary>
    public int Width { get; }

    /// <summary>W_Q, b_Q.</summary>
    public Linear Query => (Linear)GetChild("query");

    /// <summary>W_K, b_K.</summary>
    public Linear Key => (Linear)GetChild("key");

    /// <summary>W_V.</summary>
    public Linear Value => (Linear)GetChild("value");

    /// <summary>Σ_n s_n·v_n for the sub-layer output <paramref name="h"/> (…, d) and adapter outputs
    /// <paramref name="z"/> (each (…, d)), F32.</summary>
    public Tensor Mix(Tensor h, IReadOnlyList<Tensor> z, double temperature)
    {
        using var stacked = Ops.Stack(z, -2);                    // N × (…, d) -> (…, N, d)
        using var s = Scores(h, stacked, temperature);           // (…, N)
        using var v = Value.Forward(stacked);                    // (…, N, d)
        using var s1 = Ops.Unsqueeze(s, -1);                     // (…, N) -> (…, N, 1)
        using var weighted = Ops.Mul(s1, v);
        return Ops.Sum(weighted, -2);                            // (…, N, d) -> (…, d)
    }

    /// <summary>The fusion weights s = softmax_n(q·k_n / T), shape (…, N), for <paramref name="h"/> (…, d) and the
    /// stacked adapter outputs <paramref name="stacked"/> (…, N, d).</summary>
    public Tensor Scores(Tensor h, Tensor stacked, double temperature)
    {
        using var q = Query.Forward(h);                          // (…, d)
        using var q1 = Ops.Unsqueeze(q, -2);                     // (…, d) -> (…, 1, d)
        using var k = Key.Forward(stacked);                      // (…, N, d)
        using var qk = Ops.Mul(q1, k);
        using var scores = Ops.Sum(qk, -1);                      // (…, N, d) -> (…, N)
        using var scaled = Ops.Mul(scores, 1 / temperature);
        return Ops.Softmax(scaled, -1);                          // over the adapters
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"d={Width}";
}
