using System.Collections;
using System.Globalization;

namespace PeftEngine.IO.Tokenizers;

/// <summary>
/// Builds a tokenizer from the <c>tokenizer.ggml.*</c> metadata of a GGUF file (as read by a GGUF reader): the
/// model kind ("gpt2" = byte-level BPE, "llama" = SentencePiece with scores, "bert" = WordPiece), the token list,
/// scores, token types, merges, the pre-tokenizer name and the special token ids.
/// </summary>
/// <remarks>
/// Equivalent: llama.cpp's <c>llama_vocab::load</c>. Values may be any list/number types (string[], List&lt;object&gt;,
/// float[], uint, the GgufArray of <c>GgufFile.Metadata</c>, ...); keys may be given with or without the
/// "tokenizer.ggml." prefix. Token types follow
/// llama.cpp: 3 = control (special added token), 4 = user-defined (added token, not special). BERT vocabularies
/// are stored in llama.cpp's "phantom space" form (word starts prefixed by '▁', "##" removed from
/// continuations) and are converted back to WordPiece form here.
/// </remarks>
public static class GgufTokenizerFactory
{
    private const string Prefix = "tokenizer.ggml.";

    /// <summary>Creates the tokenizer described by <paramref name="metadata"/>.</summary>
    public static TokenizerBase Create(IReadOnlyDictionary<string, object> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        object? Get(string key) => metadata.TryGetValue(Prefix + key, out var v) || metadata.TryGetValue(key, out v) ? v : null;

        string model = Get("model") as string ?? throw new InvalidDataException("GGUF tokenizer: tokenizer.ggml.model is missing.");
        var tokens = Strings(Get("tokens") ?? throw new InvalidDataException("GGUF tokenizer: tokenizer.ggml.tokens is missing.")).ToList();
        var types = Get("token_type") is { } tt ? Numbers(tt).Select(x => (int)x).ToList() : null;
        int? Id(string key) => Get(key) is { } v ? (int)Convert.ToInt64(v, CultureInfo.InvariantCulture) : null;
        bool? Flag(string key) => Get(key) is bool b ? b : null;

        TokenizerBase tok;
        switch (model)
        {
            case "gpt2":
            {
                string pre = Get("pre") as string ?? "gpt-2";
                (string pattern, bool ignoreMerges) = pre switch
                {
                    "gpt-2" or "default" => (PreTokenizerPatterns.Gpt2, false),
                    "llama-bpe" or "llama3" or "llama-v3" or "smaug-bpe" => (PreTokenizerPatterns.Llama3, true),
                    "qwen2" => (PreTokenizerPatterns.Qwen2, false),
                    _ => throw new NotSupportedException($"GGUF tokenizer: pre-tokenizer '{pre}' is not supported (gpt-2, llama-bpe, qwen2 are)."),
                };
                var merges = Strings(Get("merges") ?? throw new InvalidDataException("GGUF tokenizer: a gpt2 model needs tokenizer.ggml.merges."))
                    .Select(TokenizerJsonLoader.SplitMerge);
                tok = new ByteLevelBpeTokenizer(VocabOf(tokens), merges, pattern, ignoreMerges);
                break;
            }
            case "llama":
            {
                var scores = Numbers(Get("scores") ?? throw new InvalidDataException("GGUF tokenizer: a llama model needs tokenizer.ggml.scores."))
                    .Select(x => (float)x).ToList();
                var vocab = VocabOf(tokens);
                tok = new SentencePieceBpeTokenizer(vocab, scores, byteFallback: vocab.ContainsKey("<0x00>"),
                    addPrefixSpace: Flag("add_space_prefix") ?? true, unkToken: null);
                break;
            }
            case "bert":
            {
                var wordPiece = tokens.Select(t => t.StartsWith('[') && t.EndsWith(']') ? t
                    : t.StartsWith('\u2581') ? t.Substring(1) : "##" + t).ToList();
                string unk = Id("unknown_token_id") is int u ? wordPiece[u] : "[UNK]";
                tok = new WordPieceTokenizer(VocabOf(wordPiece), new BertPreTokenizer(), unk);
                if (Id("cls_token_id") is int cls && Id("seperator_token_id") is int sep)
                {
                    tok.PrefixTokens = [cls];
                    tok.SuffixTokens = [sep];
                }
                tokens = wordPiece;
                break;
            }
            default:
                throw new NotSupportedException($"GGUF tokenizer: model '{model}' is not supported (gpt2, llama, bert are).");
        }

        if (types is not null && model != "bert")
        {
            var added = new List<AddedToken>();
            for (int i = 0; i < Math.Min(types.Count, tokens.Count); i++)
            {
                if (types[i] is 3 or 4) added.Add(new AddedToken(i, tokens[i], Special: types[i] == 3));
            }
            tok.AddTokens(added);
        }
        if (Id("unknown_token_id") is int unkId) tok.UnkTokenId = unkId;
        if (Id("padding_token_id") is int pad) tok.PadTokenId = pad;
        if (model != "bert")
        {
            tok.BosTokenId = Id("bos_token_id");
            tok.EosTokenId = Id("eos_token_id");
            bool addBos = Flag("add_bos_token") ?? model == "llama";
            if (addBos && tok.BosTokenId is int bos) tok.PrefixTokens = [bos];
            if ((Flag("add_eos_token") ?? false) && tok.EosTokenId is int eos) tok.SuffixTokens = [eos];
        }
        return tok;
    }

    private static Dictionary<string, int> VocabOf(IReadOnlyList<string> tokens)
    {
        var vocab = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++) vocab.TryAdd(tokens[i], i);
        return vocab;
    }

    private static IEnumerable<string> Strings(object value) => value switch
    {
        Gguf.GgufArray a => Strings(a.Items),          // as GgufFile.Metadata holds arrays
        IEnumerable<string> s => s,
        IEnumerable e => e.Cast<object>().Select(o => o as string ?? o?.ToString() ?? ""),
        _ => throw new InvalidDataException($"GGUF tokenizer: expected a string array, got {value.GetType().Name}."),
    };

    private static IEnumerable<double> Numbers(object value) => value switch
    {
        Gguf.GgufArray a => Numbers(a.Items),
        IEnumerable e and not string => e.Cast<object>().Select(o => Convert.ToDouble(o, CultureInfo.InvariantCulture)),
        _ => throw new InvalidDataException($"GGUF tokenizer: expected a numeric array, got {value.GetType().Name}."),
    };
}
