// AdapterFusion (Pfeiffer et al., "AdapterFusion: Non-Destructive Task Composition for Transfer Learning",
// EACL 2021, arXiv:2005.00247): h ← h + Σ_n softmax_n((h·W_Qᵀ + b_Q)·(z_n·W_Kᵀ + b_K) / T)·z_n·W_Vᵀ over the outputs
// z_n of N frozen series adapters at the same sub-layer; 3·d² + 2·d trainable parameters per sub-layer.

using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Adapters;

/// <summary>
/// The settings of an AdapterFusion layer set: which trained series bottleneck adapters it mixes and the softmax
/// temperature. It is added under its own name (<c>peft.AddAdapter("fusion", new AdapterFusionConfig { Adapters =
/// ["a", "b"] })</c>) at every adapted sub-layer that holds all of <see cref="Adapters"/> (or only at
/// <see cref="TunerConfig.TargetModules"/> among those when set); activating it freezes the fused adapters and trains
/// only the fusion's query, key and value projections.
/// </summary>
/// <remarks>AdapterHub: <c>AdapterFusionConfig</c> "dynamic" preset (query, key, value, value_initialized,
/// temperature off, value_before_softmax) with <c>add_adapter_fusion(Fuse("a", "b"))</c>; HF PEFT has no fusion.
/// The fusion regulariser (0.01·Σ‖I − W_V‖²) is available as <see cref="AdapterFusionTuner.RegularizationLoss"/>.</remarks>
public sealed record AdapterFusionConfig : TunerConfig
{
    /// <summary>The peft_type written to adapter_config.json.</summary>
    public const string Type = "ADAPTER_FUSION";

    /// <inheritdoc/>
    public override string PeftType => Type;

    /// <summary>The names of the series bottleneck adapters to fuse (at least two; <c>adapters</c>).</summary>
    public string[] Adapters { get; init; } = [];

    /// <summary>The softmax temperature T in softmax(q·kᵀ / T) (<c>temperature</c>, 1 in both AdapterHub presets).</summary>
    public double Temperature { get; init; } = 1;

    /// <summary>Checks the values, naming the field.</summary>
    public void Validate()
    {
        if (Adapters.Length < 2) throw new ArgumentException($"AdapterFusionConfig: adapters must name at least two bottleneck adapters, got [{string.Join(", ", Adapters)}]");
        if (Adapters.Distinct().Count() != Adapters.Length) throw new ArgumentException($"AdapterFusionConfig: adapters contains a name twice: [{string.Join(", ", Adapters)}]");
        if (!(Temperature > 0) || !double.IsFinite(Temperature)) throw new ArgumentException($"AdapterFusionConfig: temperature must be positive, got {Temperature}");
    }
}
