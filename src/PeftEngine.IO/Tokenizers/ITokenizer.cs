namespace PeftEngine.IO.Tokenizers;

/// <summary>
/// Turns text into token ids and back. Implementations: <see cref="ByteLevelBpeTokenizer"/> (GPT-2, Llama-3, Qwen2),
/// <see cref="SentencePieceBpeTokenizer"/> (Llama-2 style with byte fallback) and <see cref="WordPieceTokenizer"/> (BERT).
/// </summary>
/// <remarks>PyTorch/Hugging Face equivalent: <c>PreTrainedTokenizerFast</c> (<c>encode</c>, <c>decode</c>,
/// <c>vocab_size</c>, <c>bos_token_id</c>, ...).</remarks>
public interface ITokenizer
{
    /// <summary>Encodes <paramref name="text"/>; with <paramref name="addSpecialTokens"/> the post-processor adds
    /// the model's special tokens (BOS, or [CLS] ... [SEP]).</summary>
    int[] Encode(string text, bool addSpecialTokens = true);

    /// <summary>Decodes ids to text; with <paramref name="skipSpecialTokens"/> special tokens are left out.</summary>
    string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = false);

    /// <summary>Number of ids (largest id + 1), added tokens included.</summary>
    int VocabSize { get; }

    /// <summary>Beginning-of-sequence token id, or null when the model has none.</summary>
    int? BosTokenId { get; }

    /// <summary>End-of-sequence token id, or null when the model has none.</summary>
    int? EosTokenId { get; }

    /// <summary>Padding token id, or null when the model has none.</summary>
    int? PadTokenId { get; }

    /// <summary>Unknown-token id, or null when every input can be represented (byte-level models).</summary>
    int? UnkTokenId { get; }

    /// <summary>The id of a token string, or null when it is not in the vocabulary.</summary>
    int? TokenToId(string token);

    /// <summary>The token string of an id, or null when the id is out of range.</summary>
    string? IdToToken(int id);
}
