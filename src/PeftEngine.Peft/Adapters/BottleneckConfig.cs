// Bottleneck adapters. Series (Houlsby et al., "Parameter-Efficient Transfer Learning for NLP", ICML 2019,
// arXiv:1902.00751): h ← h + s·(f(h·W_downᵀ + b_down)·W_upᵀ + b_up) on a sub-layer's output. Parallel (He et al.,
// "Towards a Unified View of Parameter-Efficient Transfer Learning", ICLR 2022, arXiv:2110.04366):
// sublayer(x) + s·(f(x·W_downᵀ + b_down)·W_upᵀ + b_up). W_down ∈ R^{m×d}, W_up ∈ R^{d×m}: 2·d·m + d + m parameters.

using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Adapters;

/// <summary>How a bottleneck adapter's two projections start.</summary>
public enum BottleneckInit
{
    /// <summary><c>"houlsby"</c>: W_down and W_up ~ truncated normal (std 1e-2, cut at ±2σ), biases 0: the adapter
    /// starts close to, but not exactly at, the identity (Houlsby et al. 2019, §3.1).</summary>
    Houlsby,

    /// <summary><c>"mam_adapter"</c>: W_down ~ kaiming-uniform(a = √5), W_up = 0, biases 0: the adapter starts exactly
    /// at the identity (He et al. 2022's parallel adapter, the LoRA-style init).</summary>
    MamAdapter,

    /// <summary><c>"bert"</c>: W_down and W_up ~ N(0, 0.02²), biases 0 (AdapterHub's default; not an identity).</summary>
    Bert,
}

/// <summary>
/// The settings of a bottleneck adapter: a series (Houlsby) adapter h ← h + s·f(h·W_down + b_down)·W_up + b_up placed
/// on a sub-layer's output, or a parallel adapter sublayer(x) + s·(f(x·W_down + b_down)·W_up + b_up) placed beside the
/// sub-layer. <see cref="Houlsby"/> and <see cref="Parallel"/> give the papers' settings for the engine's models.
/// </summary>
/// <remarks>HF PEFT has no bottleneck adapter; the fields follow LLM-Adapters' <c>BottleneckConfig</c> (its
/// vendored PEFT's <c>peft_type</c> "BOTTLENECK": <c>bottleneck_size</c>, <c>non_linearity</c>,
/// <c>adapter_dropout</c>, <c>use_parallel_adapter</c>, <c>scaling</c>) plus AdapterHub's <c>reduction_factor</c> and
/// <c>init_weights</c>.</remarks>
public sealed record BottleneckConfig : TunerConfig
{
    /// <summary>The peft_type written to adapter_config.json.</summary>
    public const string Type = "BOTTLENECK";

    /// <inheritdoc/>
    public override string PeftType => Type;

    /// <summary>The bottleneck width m; null derives it from <see cref="ReductionFactor"/> (HF-style name
    /// <c>bottleneck_size</c>).</summary>
    public int? BottleneckSize { get; init; }

    /// <summary>With no <see cref="BottleneckSize"/>: m = max(1, ⌊d / reduction_factor⌋) where d is the adapter's
    /// output width (AdapterHub <c>reduction_factor</c>, default 16).</summary>
    public double ReductionFactor { get; init; } = 16;

    /// <summary>The non-linearity f: "relu", "gelu", "gelu_new", "swish"/"silu" or "tanh" (<c>non_linearity</c>).</summary>
    public string NonLinearity { get; init; } = "gelu";

    /// <summary>Dropout on the adapter's input (<c>adapter_dropout</c>).</summary>
    public double AdapterDropout { get; init; }

    /// <summary>False: series adapter on the target's output (Houlsby); true: parallel adapter reading the target's
    /// input and adding to its output (He et al.) (<c>use_parallel_adapter</c>).</summary>
    public bool UseParallelAdapter { get; init; }

    /// <summary>The factor s on the adapter's output (<c>scaling</c>; He et al. use 4 for the FFN parallel adapter).</summary>
    public double Scaling { get; init; } = 1;

    /// <summary>How the projections start (<c>init_weights</c>).</summary>
    public BottleneckInit InitWeights { get; init; } = BottleneckInit.Houlsby;

    /// <summary>Also train every LayerNorm / RMSNorm scale and shift of the base model, as Houlsby et al. do
    /// (<c>train_layer_norms</c>). The norms are base parameters: they are saved in the adapter file under their base
    /// names, loading writes them into the model, and only one adapter may train them.</summary>
    public bool TrainLayerNorms { get; init; }

    /// <summary>The bottleneck width for an adapter whose output width is <paramref name="d"/>.</summary>
    public int BottleneckFor(int d) => BottleneckSize ?? Math.Max(1, (int)Math.Floor(d / ReductionFactor));

    /// <summary>Houlsby et al. 2019: series adapters after the attention output and after the FFN output, each after
    /// the sub-layer's output dropout and before the residual add (see <see cref="BottleneckTuner"/> for the wrap
    /// points); GELU as in the authors' code; near-identity init. The paper also trains the layer norms
    /// (<paramref name="trainLayerNorms"/>).</summary>
    public static BottleneckConfig Houlsby(int? bottleneckSize = null, double reductionFactor = 16, bool trainLayerNorms = false) => new()
    {
        BottleneckSize = bottleneckSize, ReductionFactor = reductionFactor, NonLinearity = "gelu", InitWeights = BottleneckInit.Houlsby,
        TrainLayerNorms = trainLayerNorms,
    };

    /// <summary>He et al. 2022's best setting, the "scaled parallel adapter" beside the FFN: ReLU, s = 4, W_up = 0.</summary>
    public static BottleneckConfig Parallel(int? bottleneckSize = null, double scaling = 4, double reductionFactor = 16) => new()
    {
        BottleneckSize = bottleneckSize, ReductionFactor = reductionFactor, NonLinearity = "relu", Scaling = scaling,
        UseParallelAdapter = true, InitWeights = BottleneckInit.MamAdapter,
    };

    /// <summary>Checks the values, naming the field.</summary>
    public void Validate()
    {
        if (BottleneckSize is <= 0) throw new ArgumentException($"BottleneckConfig: bottleneck_size must be positive, got {BottleneckSize}");
        if (!(ReductionFactor > 0)) throw new ArgumentException($"BottleneckConfig: reduction_factor must be positive, got {ReductionFactor}");
        if (!(AdapterDropout >= 0 && AdapterDropout < 1)) throw new ArgumentException($"BottleneckConfig: adapter_dropout must lie in [0, 1), got {AdapterDropout}");
        if (!double.IsFinite(Scaling)) throw new ArgumentException($"BottleneckConfig: scaling must be finite, got {Scaling}");
        try { Nn.Activation.Parse(NonLinearity); }
        catch (ArgumentException) { throw new ArgumentException($"BottleneckConfig: non_linearity \"{NonLinearity}\" is not one of relu, gelu, gelu_new, swish, silu, tanh"); }
    }
}
