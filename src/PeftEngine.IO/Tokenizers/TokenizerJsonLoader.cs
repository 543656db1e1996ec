using System.Text.Json;

namespace PeftEngine.IO.Tokenizers;

/// <summary>
/// Reads a Hugging Face <c>tokenizer.json</c>: the model (BPE or WordPiece), normalizer, pre-tokenizer, added
/// tokens and post-processor. BPE models with a ByteLevel pre-tokenizer or decoder become a
/// <see cref="ByteLevelBpeTokenizer"/>; other BPE models (byte fallback, '▁' normalizer or Metaspace) become a
/// <see cref="SentencePieceBpeTokenizer"/>; WordPiece models a <see cref="WordPieceTokenizer"/>.
/// </summary>
/// <remarks>Hugging Face equivalent: <c>tokenizers.Tokenizer.from_file</c> /
/// <c>PreTrainedTokenizerFast(tokenizer_file=...)</c>. Unigram and WordLevel models are not supported.</remarks>
public static class TokenizerJsonLoader
{
    /// <summary>Loads a tokenizer.json file.</summary>
    public static TokenizerBase Load(string path)
    {
        using var stream = File.OpenRead(path);
        return Load(stream);
    }

    /// <summary>Loads tokenizer.json content from a stream.</summary>
    public static TokenizerBase Load(Stream stream)
    {
        using var doc = JsonDocument.Parse(stream, new JsonDocumentOptions { MaxDepth = 256 });
        var root = doc.RootElement;
        if (!root.TryGetProperty("model", out var model))
            throw new InvalidDataException("tokenizer.json: no 'model' section.");
        string type = Str(model, "type") ?? (model.TryGetProperty("merges", out _) ? "BPE" : "");
        var normalizers = Flatten(root, "normalizer", "normalizers");
        var preTokenizers = Flatten(root, "pre_tokenizer", "pretokenizers");
        var decoders = Flatten(root, "decoder", "decoders");

        TokenizerBase tok = type switch
        {
            "BPE" => LoadBpe(model, normalizers, preTokenizers, decoders),
            "WordPiece" => LoadWordPiece(model, normalizers),
            _ => throw new NotSupportedException($"tokenizer.json: model type '{type}' is not supported (BPE and WordPiece are)."),
        };

        if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
        {
            tok.AddTokens(added.EnumerateArray().Select(a => new AddedToken(
                a.GetProperty("id").GetInt32(), a.GetProperty("content").GetString() ?? "",
                Bool(a, "special") ?? false, Bool(a, "lstrip") ?? false, Bool(a, "rstrip") ?? false)));
        }
        if (root.TryGetProperty("post_processor", out var post) && post.ValueKind == JsonValueKind.Object)
            ApplyPostProcessor(tok, post);
        InferSpecialIds(tok);
        return tok;
    }

    private static TokenizerBase LoadBpe(JsonElement model, List<JsonElement> normalizers, List<JsonElement> preTokenizers, List<JsonElement> decoders)
    {
        var vocab = ReadVocab(model);
        var merges = ReadMerges(model);
        bool byteLevel = preTokenizers.Any(p => Str(p, "type") == "ByteLevel") || decoders.Any(d => Str(d, "type") == "ByteLevel");
        if (byteLevel)
        {
            string? pattern = null;
            foreach (var p in preTokenizers)
            {
                string? t = Str(p, "type");
                if (t == "Split" && p.TryGetProperty("pattern", out var pat))
                    pattern = Str(pat, "Regex") ?? System.Text.RegularExpressions.Regex.Escape(Str(pat, "String") ?? "");
                else if (t == "ByteLevel" && (Bool(p, "use_regex") ?? true) && pattern is null)
                    pattern = PreTokenizerPatterns.Gpt2;
            }
            bool nfc = normalizers.Any(n => Str(n, "type") == "NFC");
            return new ByteLevelBpeTokenizer(vocab, merges, pattern, Bool(model, "ignore_merges") ?? false, nfc);
        }
        bool prefix = normalizers.Any(n => Str(n, "type") == "Prepend")
            || preTokenizers.Any(p => Str(p, "type") == "Metaspace" && (Str(p, "prepend_scheme") is null or "always" or "first") && (Bool(p, "add_prefix_space") ?? true));
        return new SentencePieceBpeTokenizer(vocab, merges, Bool(model, "byte_fallback") ?? false, prefix, Str(model, "unk_token"));
    }

    private static TokenizerBase LoadWordPiece(JsonElement model, List<JsonElement> normalizers)
    {
        var vocab = ReadVocab(model);
        var bert = normalizers.FirstOrDefault(n => Str(n, "type") == "BertNormalizer");
        bool lowercase = bert.ValueKind == JsonValueKind.Object ? Bool(bert, "lowercase") ?? true : normalizers.Any(n => Str(n, "type") == "Lowercase");
        bool? strip = bert.ValueKind == JsonValueKind.Object ? Bool(bert, "strip_accents") : normalizers.Any(n => Str(n, "type") == "StripAccents");
        bool chinese = bert.ValueKind != JsonValueKind.Object || (Bool(bert, "handle_chinese_chars") ?? true);
        int maxChars = model.TryGetProperty("max_input_chars_per_word", out var mc) && mc.ValueKind == JsonValueKind.Number ? mc.GetInt32() : 100;
        return new WordPieceTokenizer(vocab, new BertPreTokenizer(lowercase, strip, chinese),
            Str(model, "unk_token") ?? "[UNK]", Str(model, "continuing_subword_prefix") ?? "##", maxChars);
    }

    private static void ApplyPostProcessor(TokenizerBase tok, JsonElement post)
    {
        switch (Str(post, "type"))
        {
            case "TemplateProcessing":
            {
                var prefix = new List<int>();
                var suffix = new List<int>();
                bool seenSequence = false;
                foreach (var item in post.GetProperty("single").EnumerateArray())
                {
                    if (item.TryGetProperty("Sequence", out _))
                    {
                        seenSequence = true;
                        continue;
                    }
                    if (!item.TryGetProperty("SpecialToken", out var st)) continue;
                    string name = Str(st, "id") ?? "";
                    IEnumerable<int> ids = post.TryGetProperty("special_tokens", out var map) && map.TryGetProperty(name, out var entry)
                        ? entry.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())
                        : [tok.TokenToId(name) ?? throw new InvalidDataException($"tokenizer.json: post-processor token '{name}' is not in the vocabulary.")];
                    (seenSequence ? suffix : prefix).AddRange(ids);
                }
                tok.PrefixTokens = prefix;
                tok.SuffixTokens = suffix;
                break;
            }
            case "BertProcessing":
            case "RobertaProcessing":
                tok.PrefixTokens = [post.GetProperty("cls")[1].GetInt32()];
                tok.SuffixTokens = [post.GetProperty("sep")[1].GetInt32()];
                break;
            case "Sequence":
                foreach (var p in post.GetProperty("processors").EnumerateArray()) ApplyPostProcessor(tok, p);
                break;
            default:
                break; // ByteLevel and others add no tokens
        }
    }

    private static void InferSpecialIds(TokenizerBase tok)
    {
        // Only added tokens flagged special count: ordinary vocabulary entries such as "</s>" in Qwen's vocabulary
        // are plain text pieces.
        var specials = tok.AddedTokens.Where(t => t.Special).ToDictionary(t => t.Content, t => t.Id, StringComparer.Ordinal);
        int? Find(params string[] names)
        {
            foreach (var n in names)
            {
                if (specials.TryGetValue(n, out int id)) return id;
            }
            return null;
        }
        tok.BosTokenId ??= tok.PrefixTokens.Count > 0 ? tok.PrefixTokens[0] : Find("<s>", "<|begin_of_text|>", "<|startoftext|>", "[CLS]");
        tok.EosTokenId ??= tok.SuffixTokens.Count > 0 ? tok.SuffixTokens[^1] : Find("</s>", "<|end_of_text|>", "<|endoftext|>", "[SEP]");
        tok.PadTokenId ??= Find("<pad>", "[PAD]", "<|pad|>", "<|finetune_right_pad_id|>");
        tok.UnkTokenId ??= Find("<unk>", "[UNK]");
    }

    private static Dictionary<string, int> ReadVocab(JsonElement model)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in model.GetProperty("vocab").EnumerateObject()) vocab[p.Name] = p.Value.GetInt32();
        return vocab;
    }

    private static List<(string, string)> ReadMerges(JsonElement model)
    {
        var merges = new List<(string, string)>();
        if (!model.TryGetProperty("merges", out var arr)) return merges;
        foreach (var m in arr.EnumerateArray())
        {
            if (m.ValueKind == JsonValueKind.Array) merges.Add((m[0].GetString()!, m[1].GetString()!));
            else merges.Add(SplitMerge(m.GetString()!));
        }
        return merges;
    }

    /// <summary>Splits a merge line "left right" at its single separating space.</summary>
    internal static (string, string) SplitMerge(string line)
    {
        int sp = line.IndexOf(' ', 1);
        if (sp < 0) throw new InvalidDataException($"Tokenizer merges: line '{line}' has no space separating the pair.");
        return (line.Substring(0, sp), line.Substring(sp + 1));
    }

    private static List<JsonElement> Flatten(JsonElement root, string key, string listKey)
    {
        var list = new List<JsonElement>();
        void Add(JsonElement e)
        {
            if (e.ValueKind != JsonValueKind.Object) return;
            if (Str(e, "type") == "Sequence" && e.TryGetProperty(listKey, out var items))
                foreach (var i in items.EnumerateArray()) Add(i);
            else list.Add(e);
        }
        if (root.TryGetProperty(key, out var el)) Add(el);
        return list;
    }

    private static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool? Bool(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;
}
