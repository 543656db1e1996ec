namespace PeftEngine.IO;

/// <summary>BERT <c>config.json</c> with transformers' <c>BertConfig</c> defaults (hidden_act gelu,
/// type_vocab_size 2, layer_norm_eps 1e-12, pad_token_id 0, absolute positions).</summary>
public sealed record BertConfig : HfModelConfig
{
    /// <summary>Number of token-type (segment) embeddings.</summary>
    public int TypeVocabSize { get; init; }

    /// <summary>LayerNorm epsilon.</summary>
    public double LayerNormEps { get; init; }

    /// <summary>Dropout on hidden states.</summary>
    public double HiddenDropoutProb { get; init; }

    /// <summary>Dropout on attention probabilities.</summary>
    public double AttentionProbsDropoutProb { get; init; }

    /// <summary>"absolute", "relative_key" or "relative_key_query".</summary>
    public string PositionEmbeddingType { get; init; } = "absolute";

    /// <summary>Dropout of a classification head (null: use <see cref="HiddenDropoutProb"/>).</summary>
    public double? ClassifierDropout { get; init; }
}
