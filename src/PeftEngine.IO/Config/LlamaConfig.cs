namespace PeftEngine.IO;

/// <summary>
/// Settings shared by the RMSNorm + RoPE + gated-MLP decoder family (LLaMA, Mistral, Qwen2), defaults applied.
/// </summary>
public abstract record RopeDecoderConfig : HfModelConfig
{
    /// <summary>Key/value heads (grouped-query attention); equals the attention heads when the config omits it.</summary>
    public int NumKeyValueHeads { get; init; }

    /// <summary>Width of one head: "head_dim" when given, else hidden_size / num_attention_heads.</summary>
    public int HeadDimension { get; init; }

    /// <inheritdoc/>
    public override int HeadDim => HeadDimension;

    /// <summary>RMSNorm epsilon.</summary>
    public double RmsNormEps { get; init; }

    /// <summary>RoPE base.</summary>
    public double RopeTheta { get; init; }

    /// <summary>Long-context frequency scaling, if any.</summary>
    public RopeScaling? RopeScaling { get; init; }

    /// <summary>True when q/k/v projections have a bias (LLaMA: "attention_bias", default false; Qwen2: always).</summary>
    public bool AttentionBias { get; init; }

    /// <summary>True when the output projection of attention has a bias (LLaMA: same flag as q/k/v; Qwen2: never).</summary>
    public bool OutputProjectionBias { get; init; }

    /// <summary>True when the MLP projections have a bias (LLaMA "mlp_bias", default false).</summary>
    public bool MlpBias { get; init; }

    /// <summary>Attention dropout probability.</summary>
    public double AttentionDropout { get; init; }

    /// <summary>The rotary inverse frequencies for <see cref="HeadDim"/> with <see cref="RopeScaling"/> applied.</summary>
    public double[] RopeInverseFrequencies() => IO.RopeScaling.InverseFrequencies(HeadDim, RopeTheta, RopeScaling);
}

/// <summary>LLaMA (1, 2, 3.x) <c>config.json</c> with transformers' <c>LlamaConfig</c> defaults.</summary>
/// <remarks>HF transformers: LlamaConfig (rms_norm_eps 1e-6, rope_theta 10000, tie_word_embeddings false,
/// num_key_value_heads = num_attention_heads when absent).</remarks>
public sealed record LlamaConfig : RopeDecoderConfig
{
    /// <summary>Tensor-parallel degree used in pre-training (affects nothing numerically here).</summary>
    public int PretrainingTp { get; init; } = 1;
}

/// <summary>Mistral <c>config.json</c> with transformers' <c>MistralConfig</c> defaults.</summary>
public sealed record MistralConfig : RopeDecoderConfig
{
    /// <summary>Sliding attention window in tokens (null: full attention).</summary>
    public int? SlidingWindow { get; init; }
}

/// <summary>Qwen2 <c>config.json</c> with transformers' <c>Qwen2Config</c> defaults (q/k/v always have a bias).</summary>
public sealed record Qwen2Config : RopeDecoderConfig
{
    /// <summary>Whether sliding-window attention is enabled.</summary>
    public bool UseSlidingWindow { get; init; }

    /// <summary>Sliding attention window (only used when <see cref="UseSlidingWindow"/>).</summary>
    public int? SlidingWindow { get; init; }

    /// <summary>Layers below this index use full attention when sliding windows are on.</summary>
    public int MaxWindowLayers { get; init; }
}
