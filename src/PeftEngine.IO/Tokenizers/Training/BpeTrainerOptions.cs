namespace PeftEngine.IO.Tokenizers.Training;

/// <summary>Settings of <see cref="BpeTrainer"/>.</summary>
/// <remarks>Hugging Face equivalent: <c>tokenizers.trainers.BpeTrainer(vocab_size, min_frequency, special_tokens,
/// initial_alphabet=ByteLevel.alphabet())</c> used with the <c>ByteLevel</c> pre-tokenizer.</remarks>
public sealed record BpeTrainerOptions
{
    /// <summary>The tokens every tokenizer of the project's chat/instruction formats needs: end of text, padding
    /// and the ChatML turn markers.</summary>
    public static readonly IReadOnlyList<string> DefaultSpecialTokens = ["<|endoftext|>", "<|pad|>", "<|im_start|>", "<|im_end|>"];

    /// <summary>Target vocabulary size: special tokens + 256 byte tokens + merges. Training stops earlier when no
    /// pair reaches <see cref="MinFrequency"/>.</summary>
    public int VocabSize { get; init; } = 4096;

    /// <summary>A pair seen fewer times than this is never merged.</summary>
    public long MinFrequency { get; init; } = 2;

    /// <summary>Special tokens, given ids 0, 1, ... in this order. They are cut out of the training text and never
    /// take part in merges.</summary>
    public IReadOnlyList<string> SpecialTokens { get; init; } = DefaultSpecialTokens;

    /// <summary>The pre-tokenizer regex that cuts text into words (merges never cross a word boundary).</summary>
    public string Pattern { get; init; } = PreTokenizerPatterns.Gpt2;

    /// <summary>Throws when the settings cannot give a tokenizer.</summary>
    internal void Validate()
    {
        if (SpecialTokens.Any(string.IsNullOrEmpty))
            throw new ArgumentException("BpeTrainer: a special token is empty.", nameof(SpecialTokens));
        if (SpecialTokens.Distinct(StringComparer.Ordinal).Count() != SpecialTokens.Count)
            throw new ArgumentException($"BpeTrainer: special tokens repeat ({string.Join(", ", SpecialTokens)}).", nameof(SpecialTokens));
        int minimum = SpecialTokens.Count + 256;
        if (VocabSize < minimum)
            throw new ArgumentOutOfRangeException(nameof(VocabSize), VocabSize,
                $"BpeTrainer: the vocabulary needs at least {minimum} entries ({SpecialTokens.Count} special tokens + 256 bytes).");
        if (MinFrequency < 1)
            throw new ArgumentOutOfRangeException(nameof(MinFrequency), MinFrequency, "BpeTrainer: the minimum pair frequency must be at least 1.");
    }
}
