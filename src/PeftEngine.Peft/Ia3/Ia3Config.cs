// (IA)³, "Infused Adapter by Inhibiting and Amplifying Inner Activations" (Liu et al., "Few-Shot Parameter-Efficient
// Fine-Tuning is Better and Cheaper than In-Context Learning", NeurIPS 2022, arXiv 2205.05638):
//
//     attention:     k = l_k ⊙ (W_k x),   v = l_v ⊙ (W_v x)            (l ∈ R^out, scales the output)
//     feed-forward:  y = W_2 (l_ff ⊙ γ(W_1 x))                          (l ∈ R^in of W_2, scales its input)
//
// Only the vectors l train; they start at 1, so the adapted model starts as the base model.

using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Ia3;

/// <summary>
/// The settings of an (IA)³ adapter with HF's fields and defaults: which modules get a learned scaling vector
/// (<see cref="TunerConfig.TargetModules"/>), which of those are feed-forward layers whose input is scaled instead of
/// their output (<see cref="FeedforwardModules"/>, a subset of the targets), and whether the vectors start at 1.
/// </summary>
/// <remarks>HF: peft.IA3Config (peft_type "IA3"; JSON keys target_modules, exclude_modules, feedforward_modules,
/// fan_in_fan_out, modules_to_save, init_ia3_weights).</remarks>
public sealed record Ia3Config : TunerConfig
{
    /// <inheritdoc/>
    public override string PeftType => "IA3";

    /// <summary>Targets whose input (not output) is scaled: a list of suffixes (a module whose path ends with one,
    /// without a dot boundary, as HF tests it) or a regex matched against the whole path (HF
    /// <c>feedforward_modules</c>).</summary>
    public TargetModules? FeedforwardModules { get; init; }

    /// <summary>"No feed-forward module" (HF's empty list <c>feedforward_modules=[]</c>, which turns the defaults off):
    /// a regex that matches nothing, written to the file as <c>[]</c>.</summary>
    public static TargetModules NoFeedforward { get; } = TargetModules.Regex("(?!)");

    /// <summary>True when the base weight is stored (in, out), as GPT-2's Conv1D; set automatically for Conv1D
    /// targets (HF <c>fan_in_fan_out</c>).</summary>
    public bool FanInFanOut { get; init; }

    /// <summary>True: the vectors start at 1 (identity). False: they start as N(0, 1) samples, as HF's
    /// <c>torch.randn</c>; only for tests (HF <c>init_ia3_weights</c>).</summary>
    public bool InitIa3Weights { get; init; } = true;

    /// <summary>HF's default targets per model type (TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING).</summary>
    public static IReadOnlyDictionary<string, string[]> DefaultTargets { get; } = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["gpt2"] = ["c_attn", "mlp.c_proj"],
        ["llama"] = ["k_proj", "v_proj", "down_proj"],
        ["mistral"] = ["k_proj", "v_proj", "down_proj"],
        ["qwen2"] = ["k_proj", "v_proj", "down_proj"],
        ["bert"] = ["key", "value", "output.dense"],
    };

    /// <summary>HF's default feed-forward modules per model type (TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING).</summary>
    public static IReadOnlyDictionary<string, string[]> DefaultFeedforward { get; } = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["gpt2"] = ["mlp.c_proj"],
        ["llama"] = ["down_proj"],
        ["mistral"] = ["down_proj"],
        ["qwen2"] = ["down_proj"],
        ["bert"] = ["output.dense"],
    };

    /// <summary>True when the module at <paramref name="path"/> is a feed-forward target: a regex must match the whole
    /// path, a name must end the path (HF check_target_module_feedforward uses <c>str.endswith</c>).</summary>
    public bool IsFeedforward(string path)
    {
        if (FeedforwardModules is not { } ff) return false;
        if (ff.Names is null) return TargetMatcher.FullMatch(ff.Pattern!, path);
        return ff.Names.Any(n => path.EndsWith(n, StringComparison.Ordinal));
    }

    /// <summary>HF's __post_init__ check: with name lists on both sides the feed-forward modules must be targets.</summary>
    public void Validate()
    {
        if (TargetModules is { Names: { } targets } && FeedforwardModules is { Names: { } ff } && !ff.All(targets.Contains))
            throw new ArgumentException("IA3Config: `feedforward_modules` should be a subset of `target_modules`"
                + $" (feedforward_modules {FeedforwardModules}, target_modules {TargetModules})");
        if (LayersToTransform is { Length: > 0 } || LayersPattern is { Length: > 0 })
            throw new ArgumentException("IA3Config: layers_to_transform / layers_pattern are not IA3Config fields in HF PEFT; select layers with a regex in target_modules");
    }
}
