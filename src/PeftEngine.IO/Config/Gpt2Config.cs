namespace PeftEngine.IO;

/// <summary>GPT-2 <c>config.json</c> with transformers' <c>GPT2Config</c> defaults (n_inner null -> 4*n_embd,
/// layer_norm_epsilon 1e-5, activation gelu_new, tied embeddings).</summary>
public sealed record Gpt2Config : HfModelConfig
{
    /// <summary>LayerNorm epsilon.</summary>
    public double LayerNormEpsilon { get; init; }

    /// <summary>Dropout after attention and MLP outputs.</summary>
    public double ResidPdrop { get; init; }

    /// <summary>Dropout on the embeddings.</summary>
    public double EmbdPdrop { get; init; }

    /// <summary>Dropout on attention probabilities.</summary>
    public double AttnPdrop { get; init; }

    /// <summary>Whether attention scores are divided by sqrt(head_dim).</summary>
    public bool ScaleAttnWeights { get; init; } = true;

    /// <summary>Whether scores are further divided by (layer index + 1).</summary>
    public bool ScaleAttnByInverseLayerIdx { get; init; }
}
