namespace PeftEngine.Peft.Prompt;

/// <summary>How the virtual tokens of prompt tuning start.</summary>
/// <remarks>HF: peft.PromptTuningInit.</remarks>
public enum PromptTuningInit
{
    /// <summary>N(0, 1) rows (nn.Embedding's default).</summary>
    Random,

    /// <summary>The embeddings of the tokens of <see cref="PromptTuningConfig.PromptTuningInitText"/>, repeated or cut to length.</summary>
    Text,

    /// <summary>The embeddings of token ids drawn uniformly from the vocabulary.</summary>
    SampleVocab,
}

/// <summary>
/// Prompt tuning (Lester et al. 2021, arXiv 2104.08691): <see cref="PromptLearningConfig.NumVirtualTokens"/>
/// trained vectors are prepended to the input embeddings; the attention mask is widened by as many ones and the
/// labels by as many -100.
/// </summary>
/// <remarks>HF: peft.PromptTuningConfig (<c>prompt_tuning_init</c> "RANDOM" | "TEXT" | "SAMPLE_VOCAB",
/// <c>prompt_tuning_init_text</c>, <c>tokenizer_name_or_path</c>, <c>tokenizer_kwargs</c>).</remarks>
public sealed record PromptTuningConfig : PromptLearningConfig
{
    /// <inheritdoc/>
    public override string PeftType => "PROMPT_TUNING";

    /// <summary>How the virtual tokens start (ignored in inference mode: the weights come from a file).</summary>
    public PromptTuningInit PromptTuningInit { get; init; } = PromptTuningInit.Random;

    /// <summary>The text whose token embeddings start the prompt (TEXT).</summary>
    public string? PromptTuningInitText { get; init; }

    /// <summary>A folder holding <c>tokenizer.json</c>, or the file itself (TEXT); HF's text is tokenized with the
    /// special tokens the tokenizer adds (e.g. LLaMA's BOS).</summary>
    public string? TokenizerNameOrPath { get; init; }

    /// <summary>Checks HF's rules for TEXT: the text and the tokenizer must both be given.</summary>
    public void Validate()
    {
        if (PromptTuningInit == PromptTuningInit.Text && string.IsNullOrEmpty(TokenizerNameOrPath))
            throw new ArgumentException($"When prompt_tuning_init='TEXT', tokenizer_name_or_path can't be {(TokenizerNameOrPath is null ? "None" : "''")}.");
        if (PromptTuningInit == PromptTuningInit.Text && PromptTuningInitText is null)
            throw new ArgumentException("When prompt_tuning_init='TEXT', prompt_tuning_init_text can't be None.");
    }
}
