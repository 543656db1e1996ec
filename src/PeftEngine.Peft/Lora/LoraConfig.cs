using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Lora;

/// <summary>How LoRA's factors start: HF's <c>init_lora_weights</c> values that this engine supports.</summary>
public enum LoraInit
{
    /// <summary><c>true</c>: A ~ kaiming-uniform(a = √5), B = 0 (the adapter starts as a no-op).</summary>
    Default,

    /// <summary><c>"gaussian"</c>: A ~ N(0, 1/r²) (std 1/r), B = 0.</summary>
    Gaussian,

    /// <summary><c>false</c>: A and B both random (not a no-op; for tests and debugging).</summary>
    Random,

    /// <summary><c>"pissa"</c> / <c>"pissa_niter_N"</c>: A and B from the top-r singular triplets of W, which is
    /// replaced by its residual (Meng et al. 2024); see <see cref="LoraConfig.PissaNiter"/>.</summary>
    Pissa,

    /// <summary><c>"loftq"</c>: W replaced by its 4-bit quantization Q and A, B fitted to W − Q by alternating
    /// quantization and SVD (Li et al. 2024); see <see cref="LoraConfig.LoftqConfig"/>.</summary>
    Loftq,
}

/// <summary>LoftQ's settings (HF <c>LoftQConfig</c>).</summary>
/// <param name="LoftqBits">Bits of the quantized base; 4 (NF4) is supported.</param>
/// <param name="LoftqIter">Alternating quantize / SVD steps.</param>
public sealed record LoftqConfig(int LoftqBits = 4, int LoftqIter = 1);

/// <summary>
/// The settings of a LoRA adapter, with HF's field meanings and defaults (r = 8, lora_alpha = 8, dropout 0,
/// bias "none"). Scaling is lora_alpha / r, or lora_alpha / √r with <see cref="UseRslora"/>; <see cref="RankPattern"/>
/// and <see cref="AlphaPattern"/> override r and alpha per module (keys matched as <c>(.*\.)?(key)$</c>).
/// </summary>
/// <remarks>HF: peft.LoraConfig (JSON names in <see cref="Serialization.AdapterConfigJson"/>).</remarks>
public sealed record LoraConfig : TunerConfig
{
    /// <inheritdoc/>
    public override string PeftType => "LORA";

    /// <summary>Rank r of the update ΔW = B·A (HF <c>r</c>).</summary>
    public int R { get; init; } = 8;

    /// <summary>α in the scaling α/r (HF <c>lora_alpha</c>).</summary>
    public double LoraAlpha { get; init; } = 8;

    /// <summary>Dropout probability on the LoRA branch's input (HF <c>lora_dropout</c>).</summary>
    public double LoraDropout { get; init; }

    /// <summary>True when the base weight is stored (in, out), as GPT-2's Conv1D; set automatically for Conv1D
    /// targets (HF <c>fan_in_fan_out</c>).</summary>
    public bool FanInFanOut { get; init; }

    /// <summary>Which biases train: "none", "all" (every bias of the model) or "lora_only" (biases of adapted layers)
    /// (HF <c>bias</c>).</summary>
    public string Bias { get; init; } = "none";

    /// <summary>Scaling α/√r instead of α/r (HF <c>use_rslora</c>; Kalajdzievski 2023, rsLoRA).</summary>
    public bool UseRslora { get; init; }

    /// <summary>Initialisation of A and B (HF <c>init_lora_weights</c>).</summary>
    public LoraInit InitLoraWeights { get; init; } = LoraInit.Default;

    /// <summary>With <see cref="LoraInit.Pissa"/>: null for an exact SVD ("pissa"), N for a randomized SVD with N power
    /// iterations ("pissa_niter_N").</summary>
    public int? PissaNiter { get; init; }

    /// <summary>With <see cref="LoraInit.Loftq"/>: the LoftQ settings (HF <c>loftq_config</c>).</summary>
    public LoftqConfig LoftqConfig { get; init; } = new();

    /// <summary>Per-module rank overrides, pattern -> r (HF <c>rank_pattern</c>).</summary>
    public IReadOnlyDictionary<string, int> RankPattern { get; init; } = new Dictionary<string, int>();

    /// <summary>Per-module alpha overrides, pattern -> α (HF <c>alpha_pattern</c>).</summary>
    public IReadOnlyDictionary<string, double> AlphaPattern { get; init; } = new Dictionary<string, double>();

    /// <summary>Weight-decomposed LoRA (HF <c>use_dora</c>; Liu et al. 2024, DoRA).</summary>
    public bool UseDora { get; init; }

    /// <summary>A trainable bias on B (HF <c>lora_bias</c>).</summary>
    public bool LoraBias { get; init; }

    /// <summary>The rank for the module at <paramref name="path"/> (rank_pattern first, then r).</summary>
    public int RankFor(string path) => TargetMatcher.PatternKey(RankPattern.Keys, path) is { } k ? RankPattern[k] : R;

    /// <summary>The alpha for the module at <paramref name="path"/> (alpha_pattern first, then lora_alpha).</summary>
    public double AlphaFor(string path) => TargetMatcher.PatternKey(AlphaPattern.Keys, path) is { } k ? AlphaPattern[k] : LoraAlpha;

    /// <summary>Checks the values HF also rejects, naming the field.</summary>
    public void Validate()
    {
        if (R <= 0) throw new ArgumentException($"LoraConfig: `r` should be a positive integer value but the value passed is {R}");
        foreach (var (k, v) in RankPattern)
            if (v <= 0) throw new ArgumentException($"LoraConfig: rank_pattern['{k}'] = {v} must be positive");
        if (!(LoraDropout >= 0 && LoraDropout < 1)) throw new ArgumentException($"LoraConfig: lora_dropout must lie in [0, 1), got {LoraDropout}");
        if (Bias is not ("none" or "all" or "lora_only")) throw new ArgumentException($"LoraConfig: bias must be \"none\", \"all\" or \"lora_only\", got \"{Bias}\"");
        if (UseDora && LoraBias) throw new ArgumentException("LoraConfig: use_dora and lora_bias cannot be combined");
        if (InitLoraWeights == LoraInit.Loftq && LoftqConfig.LoftqBits != 4)
            throw new ArgumentException($"LoraConfig: loftq_config.loftq_bits = {LoftqConfig.LoftqBits} is not supported (4-bit NF4 only)");
        if (InitLoraWeights == LoraInit.Loftq && LoftqConfig.LoftqIter < 1)
            throw new ArgumentException($"LoraConfig: loftq_config.loftq_iter must be at least 1, got {LoftqConfig.LoftqIter}");
        if (LayersPattern is { Length: > 0 } && LayersToTransform is not { Length: > 0 })
            throw new ArgumentException("LoraConfig: When `layers_pattern` is specified, `layers_to_transform` must also be specified. ");
        if (TargetModules is { Names: null } && LayersToTransform is { Length: > 0 })
            throw new ArgumentException("LoraConfig: `layers_to_transform` cannot be used when `target_modules` is a str.");
    }
}
