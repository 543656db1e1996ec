namespace PeftEngine.Peft.Prompt;

/// <summary>
/// Prefix tuning (Li &amp; Liang 2021, arXiv 2101.00190): every attention layer gets
/// <see cref="PromptLearningConfig.NumVirtualTokens"/> trained keys and values before the sequence's own. With
/// <see cref="PrefixProjection"/> the prefix is computed by an MLP (Embedding -> Linear -> Tanh -> Linear) while
/// training; the file holds the computed prefix.
/// </summary>
/// <remarks>HF: peft.PrefixTuningConfig (<c>encoder_hidden_size</c>, <c>prefix_projection</c>,
/// <c>init_weights</c>) with the PrefixEncoder.</remarks>
public sealed record PrefixTuningConfig : PromptLearningConfig
{
    /// <inheritdoc/>
    public override string PeftType => "PREFIX_TUNING";

    /// <summary>Hidden width of the reparameterisation MLP. Null: <see cref="PromptLearningConfig.TokenDim"/>.</summary>
    public int? EncoderHiddenSize { get; init; }

    /// <summary>Compute the prefix with the MLP (training only; an adapter loaded for inference holds the result).</summary>
    public bool PrefixProjection { get; init; }

    /// <summary>Null: random (N(0, 1) embedding, PyTorch's default Linear); "zero": the prefix starts at zero
    /// (the last MLP layer, or the embedding without projection).</summary>
    public string? InitWeights { get; init; }
}
