namespace PeftEngine.IO.Gguf;

/// <summary>
/// The tokenizer stored in a GGUF file's <c>tokenizer.ggml.*</c> metadata, as plain data for a tokenizer to build from.
/// </summary>
/// <param name="Model">"llama" (SentencePiece BPE with scores), "gpt2" (byte-level BPE with merges), "bert" (WordPiece)...</param>
/// <param name="Pre">The pre-tokenizer name ("llama-bpe", "qwen2"...), if given.</param>
/// <param name="Tokens">The vocabulary; the index is the token id.</param>
/// <param name="Scores">Per-token scores (SentencePiece log probabilities), if given.</param>
/// <param name="TokenTypes">Per-token types (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte), if given.</param>
/// <param name="Merges">BPE merges as "left right" strings, if given.</param>
/// <param name="BosTokenId">Beginning-of-sequence id.</param>
/// <param name="EosTokenId">End-of-sequence id.</param>
/// <param name="UnknownTokenId">Unknown-token id.</param>
/// <param name="PaddingTokenId">Padding id.</param>
/// <param name="SeparatorTokenId">Separator id (llama.cpp spells the key "seperator").</param>
/// <param name="AddBosToken">Whether a BOS token is prepended when encoding, if specified.</param>
/// <param name="AddEosToken">Whether an EOS token is appended when encoding, if specified.</param>
/// <param name="ChatTemplate">The Jinja chat template (<c>tokenizer.chat_template</c>), if given.</param>
public sealed record GgufTokenizerData(
    string Model, string? Pre, string[] Tokens, float[]? Scores, int[]? TokenTypes, string[]? Merges,
    int? BosTokenId, int? EosTokenId, int? UnknownTokenId, int? PaddingTokenId, int? SeparatorTokenId,
    bool? AddBosToken, bool? AddEosToken, string? ChatTemplate)
{
    /// <summary>Reads the tokenizer metadata of <paramref name="file"/>; errors name the file and the key.</summary>
    public static GgufTokenizerData FromGguf(GgufFile file)
    {
        const string p = "tokenizer.ggml.";
        string[] tokens = file.GetStringArray(p + "tokens");
        float[]? scores = file.Has(p + "scores") ? file.GetFloatArray(p + "scores") : null;
        int[]? types = file.Has(p + "token_type") ? file.GetIntegerArray(p + "token_type").Select(v => (int)v).ToArray() : null;
        if (scores is not null && scores.Length != tokens.Length)
            throw new InvalidDataException($"GGUF file '{file.Path}', metadata '{p}scores': {scores.Length} scores for {tokens.Length} tokens");
        if (types is not null && types.Length != tokens.Length)
            throw new InvalidDataException($"GGUF file '{file.Path}', metadata '{p}token_type': {types.Length} types for {tokens.Length} tokens");
        int? Id(string key)
        {
            if (!file.Has(p + key)) return null;
            long v = file.GetInteger(p + key);
            if (v < 0 || v >= tokens.Length)
                throw new InvalidDataException($"GGUF file '{file.Path}', metadata '{p}{key}': id {v} is outside the vocabulary of {tokens.Length}");
            return (int)v;
        }
        bool? Flag(string key) => file.Has(p + key) ? file.GetBool(p + key) : null;
        return new GgufTokenizerData(
            file.GetString(p + "model"),
            file.Has(p + "pre") ? file.GetString(p + "pre") : null,
            tokens, scores, types,
            file.Has(p + "merges") ? file.GetStringArray(p + "merges") : null,
            Id("bos_token_id"), Id("eos_token_id"), Id("unknown_token_id"), Id("padding_token_id"), Id("seperator_token_id"),
            Flag("add_bos_token"), Flag("add_eos_token"),
            file.Has("tokenizer.chat_template") ? file.GetString("tokenizer.chat_template") : null);
    }
}
