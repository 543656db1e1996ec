namespace PeftEngine.Peft.Reft;

/// <summary>
/// The settings shared by the ReFT interventions (DESIGN.md §3 injection point 6): which decoder layers, which
/// prompt positions, the rank of the edited subspace, dropout, the activation on the learned projection, and
/// whether the first and the last positions share one intervention.
/// </summary>
/// <remarks>pyreft: ReftConfig(representations=[{"layer": l, "component": "block_output", "low_rank_dimension": r,
/// "intervention": LoreftIntervention(embed_dim, low_rank_dimension, dropout, act_fn)}]) together with the
/// training script's <c>--positions</c> and <c>--share_weights</c>. HF PEFT has no ReFT; the JSON keys of
/// <c>adapter_config.json</c> written by this engine are <c>layers</c>, <c>positions</c>,
/// <c>low_rank_dimension</c>, <c>dropout</c>, <c>act_fn</c> and <c>share_weights</c>.</remarks>
public abstract record ReftConfig : PeftConfig
{
    /// <summary>Indices of the decoder layers whose output is intervened on; null means every layer.</summary>
    public int[]? Layers { get; init; }

    /// <summary>pyreft's position spec: "f<i>n</i>" the first n prompt tokens, "l<i>n</i>" the last n, "f<i>n</i>+l<i>m</i>"
    /// both. Each count is capped at half the prompt length, as pyreft does.</summary>
    public string Positions { get; init; } = "f1+l1";

    /// <summary>Rank r of the intervention (rows of R and W).</summary>
    public int LowRankDimension { get; init; } = 4;

    /// <summary>Dropout probability on the intervened hidden state (pyreft applies it to Φ(h), training only).</summary>
    public double Dropout { get; init; }

    /// <summary>Activation on W·h + b: null or "linear" (none), "relu", "gelu", "silu", "tanh".</summary>
    public string? ActFn { get; init; }

    /// <summary>True: one intervention per layer for the first and the last positions; false (pyreft's default):
    /// one for the first positions and another for the last (when the spec has both).</summary>
    public bool ShareWeights { get; init; }
}

/// <summary>LoReFT: Φ(h) = h + Rᵀ(W·h + b − R·h) with R (r × d) of orthonormal rows.</summary>
/// <remarks>pyreft: LoreftIntervention. Not identity at initialisation (W and b start as nn.Linear does).</remarks>
public sealed record LoreftConfig : ReftConfig
{
    /// <inheritdoc/>
    public override string PeftType => "LOREFT";
}

/// <summary>DiReFT: Φ(h) = h + W₂ᵀ(W₁·h + b) with W₂ (r × d) not constrained to be orthonormal.</summary>
/// <remarks>pyreft: DireftIntervention.</remarks>
public sealed record DireftConfig : ReftConfig
{
    /// <inheritdoc/>
    public override string PeftType => "DIREFT";
}
