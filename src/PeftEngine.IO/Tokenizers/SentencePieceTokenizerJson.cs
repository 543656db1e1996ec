using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using PeftEngine.IO.Gguf;

namespace PeftEngine.IO.Tokenizers;

/// <summary>
/// Writes a Hugging Face <c>tokenizer.json</c> for a SentencePiece BPE vocabulary (the Llama-2 / Mistral kind, GGUF
/// tokenizer model "llama"): a BPE model with <c>byte_fallback</c> whose merges are rebuilt from the token scores
/// (<see cref="SentencePieceMerges"/>), the '▁' normalizer (prepend '▁', spaces become '▁'), the matching decoder
/// ('▁' back to spaces, byte pieces fused into UTF-8, the leading space stripped), control and unknown tokens as
/// special added tokens, user-defined tokens as plain added tokens, and a post-processor adding BOS/EOS.
/// The result is what <see cref="TokenizerJsonLoader"/> and HF <c>tokenizers</c> read back.
/// </summary>
/// <remarks>Hugging Face equivalent: transformers' <c>LlamaConverter</c> (legacy layout, as in the published
/// Llama-2 tokenizer.json) applied to the SentencePiece model.</remarks>
public static class SentencePieceTokenizerJson
{
    /// <summary>The tokenizer.json text of a GGUF "llama" (SentencePiece) vocabulary.</summary>
    /// <param name="data">The tokenizer.ggml.* metadata; it must have scores.</param>
    /// <param name="addSpacePrefix">GGUF's <c>tokenizer.ggml.add_space_prefix</c> (default true): prepend '▁' to
    /// the text.</param>
    public static string FromGguf(GgufTokenizerData data, bool addSpacePrefix = true)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Model != "llama")
            throw new ArgumentException($"SentencePieceTokenizerJson: the GGUF tokenizer model is '{data.Model}', not 'llama'.", nameof(data));
        var scores = data.Scores ?? throw new InvalidDataException("SentencePieceTokenizerJson: the GGUF SentencePiece vocabulary has no tokenizer.ggml.scores.");
        var added = new List<AddedToken>();
        for (int id = 0; id < data.Tokens.Length; id++)
        {
            int type = data.TokenTypes?[id] ?? 1;
            if (type is 2 or 3 or 4) added.Add(new AddedToken(id, data.Tokens[id], Special: type != 4));   // unknown, control, user-defined
        }
        AddedToken? Token(int? id) => id is int i ? new AddedToken(i, data.Tokens[i], Special: true) : null;
        using var buffer = new MemoryStream();
        Write(buffer, data.Tokens, SentencePieceMerges.FromScores(data.Tokens, scores), added,
            data.UnknownTokenId is int unk ? data.Tokens[unk] : null,
            byteFallback: data.Tokens.Contains("<0x00>"), addSpacePrefix,
            bos: data.AddBosToken ?? true ? Token(data.BosTokenId) : null,
            eos: data.AddEosToken ?? false ? Token(data.EosTokenId) : null);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Writes the indented JSON (non-ASCII characters literally) to <paramref name="stream"/>.</summary>
    /// <param name="stream">Destination.</param>
    /// <param name="vocab">Token strings by id ('▁' marks spaces, byte pieces are "&lt;0xNN&gt;").</param>
    /// <param name="merges">Merges, highest priority first.</param>
    /// <param name="addedTokens">The added tokens, in id order.</param>
    /// <param name="unkToken">The unknown token, or null.</param>
    /// <param name="byteFallback">Characters outside the vocabulary become their UTF-8 byte pieces.</param>
    /// <param name="addSpacePrefix">Prepend '▁' to each stretch of text (and strip the leading space when decoding).</param>
    /// <param name="bos">A BOS token to prepend to every sequence, or null.</param>
    /// <param name="eos">An EOS token to append to every sequence, or null.</param>
    public static void Write(Stream stream, IReadOnlyList<string> vocab, IReadOnlyList<(string Left, string Right)> merges,
        IEnumerable<AddedToken> addedTokens, string? unkToken, bool byteFallback, bool addSpacePrefix, AddedToken? bos, AddedToken? eos)
    {
        var options = new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using var w = new Utf8JsonWriter(stream, options);
        string marker = SentencePieceBpeTokenizer.SpaceMarker.ToString();
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");
        TokenizerJsonParts.WriteAddedTokens(w, addedTokens);

        w.WriteStartObject("normalizer");                       // [Prepend("▁")], Replace(" ", "▁")
        w.WriteString("type", "Sequence");
        w.WriteStartArray("normalizers");
        if (addSpacePrefix)
        {
            w.WriteStartObject();
            w.WriteString("type", "Prepend");
            w.WriteString("prepend", marker);
            w.WriteEndObject();
        }
        WriteReplace(w, " ", marker);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteNull("pre_tokenizer");

        w.WritePropertyName("post_processor");
        if (bos is null && eos is null) w.WriteNullValue();
        else TokenizerJsonParts.WriteSpecialTokenTemplate(w, bos, eos);

        w.WriteStartObject("decoder");                          // Replace("▁", " "), ByteFallback, Fuse, [Strip(" ", 1, 0)]
        w.WriteString("type", "Sequence");
        w.WriteStartArray("decoders");
        WriteReplace(w, marker, " ");
        w.WriteStartObject(); w.WriteString("type", "ByteFallback"); w.WriteEndObject();
        w.WriteStartObject(); w.WriteString("type", "Fuse"); w.WriteEndObject();
        if (addSpacePrefix)
        {
            w.WriteStartObject();
            w.WriteString("type", "Strip");
            w.WriteString("content", " ");
            w.WriteNumber("start", 1);
            w.WriteNumber("stop", 0);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();

        TokenizerJsonParts.WriteBpeModelStart(w, unkToken, fuseUnk: true, byteFallback, ignoreMerges: false, vocab);
        // "left right" strings, unless a piece holds a space; then [left, right] pairs
        bool pairs = merges.Any(m => m.Left.Contains(' ') || m.Right.Contains(' '));
        w.WriteStartArray("merges");
        foreach (var (left, right) in merges)
        {
            if (!pairs)
            {
                w.WriteStringValue(left + " " + right);
                continue;
            }
            w.WriteStartArray();
            w.WriteStringValue(left);
            w.WriteStringValue(right);
            w.WriteEndArray();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteReplace(Utf8JsonWriter w, string pattern, string content)
    {
        w.WriteStartObject();
        w.WriteString("type", "Replace");
        w.WriteStartObject("pattern");
        w.WriteString("String", pattern);
        w.WriteEndObject();
        w.WriteString("content", content);
        w.WriteEndObject();
    }
}
