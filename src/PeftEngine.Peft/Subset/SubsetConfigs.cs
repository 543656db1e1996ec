// The configs of the parameter-subset methods (DESIGN.md §3 point 7): LN tuning (Zhao et al., ICLR 2024,
// arXiv 2312.11420) trains copies of the normalisation layers, BitFit (Ben Zaken et al., ACL 2022, arXiv 2106.10199)
// trains copies of the biases.

using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Subset;

/// <summary>LN tuning: which modules (normally the LayerNorm / RMSNorm layers) train as per-adapter copies.</summary>
/// <remarks>HF: peft.LNTuningConfig (peft_type "LN_TUNING"; JSON keys target_modules, exclude_modules,
/// modules_to_save). Missing targets take HF's per-architecture defaults.</remarks>
public sealed record LnTuningConfig : TunerConfig
{
    /// <inheritdoc/>
    public override string PeftType => "LN_TUNING";

    /// <summary>True (default): each copy starts equal to the module. False: N(0, 0.1²) noise is added, so the adapter
    /// changes the output from the start (a testing aid like HF's init_weights=False; not written to the file).</summary>
    public bool InitWeights { get; init; } = true;

    /// <summary>HF's default targets per model type (TRANSFORMERS_MODELS_TO_LNTUNING_TARGET_MODULES_MAPPING).</summary>
    public static IReadOnlyDictionary<string, string[]> DefaultTargets { get; } = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["gpt2"] = ["ln_1", "ln_2", "ln_f"],
        ["llama"] = ["input_layernorm", "post_attention_layernorm", "norm"],
        ["mistral"] = ["input_layernorm", "post_attention_layernorm", "norm"],
        ["qwen2"] = ["input_layernorm", "post_attention_layernorm", "norm"],
    };
}

/// <summary>BitFit: the modules whose bias trains (null: every module that has one; the paper's cheapest variant
/// names only the query and the first MLP projections, e.g. <c>["query", "intermediate.dense"]</c>).</summary>
/// <remarks>No HF PEFT counterpart; this engine writes it with peft_type "BITFIT", the keys of LNTuningConfig, and the
/// tuned biases under the base model's own bias keys (<c>base_model.model.&lt;path&gt;.bias</c>).</remarks>
public sealed record BitFitConfig : TunerConfig
{
    /// <inheritdoc/>
    public override string PeftType => "BITFIT";

    /// <summary>True (default): each bias copy starts equal to the base bias. False: N(0, 0.1²) noise is added (a
    /// testing aid; not written to the file).</summary>
    public bool InitWeights { get; init; } = true;
}
