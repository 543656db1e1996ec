using System.Text.Encodings.Web;
using System.Text.Json;

namespace PeftEngine.IO.Tokenizers;

/// <summary>
/// Writes a Hugging Face <c>tokenizer.json</c> for a byte-level BPE vocabulary (the GPT-2 / LLaMA-3 / Qwen2 kind):
/// the added tokens, a ByteLevel pre-tokenizer (behind a regex Split when the pattern is not GPT-2's own), a
/// post-processor that optionally prepends a BOS token, a ByteLevel decoder and the BPE model (vocab + merges).
/// The result is what <see cref="TokenizerJsonLoader"/> and HF <c>tokenizers</c> read back.
/// </summary>
/// <remarks>Hugging Face equivalent: <c>Tokenizer.save(path)</c> of a <c>ByteLevelBPETokenizer</c>-style
/// tokenizer.</remarks>
public static class ByteLevelTokenizerJson
{
    /// <summary>Writes the indented JSON (non-ASCII characters literally) to <paramref name="stream"/>.</summary>
    /// <param name="stream">Destination.</param>
    /// <param name="addedTokens">The added tokens, in id order.</param>
    /// <param name="pattern">The pre-tokenizer regex (<see cref="PreTokenizerPatterns"/>).</param>
    /// <param name="vocab">Token strings by id, in byte-level characters.</param>
    /// <param name="merges">Merge rules as "left right" text, highest priority first.</param>
    /// <param name="ignoreMerges">The BPE model's <c>ignore_merges</c> flag (whole words found in the vocab skip
    /// merging, as LLaMA-3 does).</param>
    /// <param name="bos">A BOS token to prepend to every sequence (TemplateProcessing), or null for none.</param>
    public static void Write(Stream stream, IEnumerable<AddedToken> addedTokens, string pattern,
        IReadOnlyList<string> vocab, IEnumerable<string> merges, bool ignoreMerges = false, AddedToken? bos = null)
    {
        var options = new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using var w = new Utf8JsonWriter(stream, options);
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");
        TokenizerJsonParts.WriteAddedTokens(w, addedTokens);
        w.WriteNull("normalizer");
        w.WritePropertyName("pre_tokenizer");
        WritePreTokenizer(w, pattern);
        w.WritePropertyName("post_processor");
        if (bos is null) WriteByteLevel(w, useRegex: true);
        else TokenizerJsonParts.WriteSpecialTokenTemplate(w, bos, eos: null);
        w.WritePropertyName("decoder");
        WriteByteLevel(w, useRegex: true);
        TokenizerJsonParts.WriteBpeModelStart(w, unkToken: null, fuseUnk: false, byteFallback: false, ignoreMerges, vocab);
        w.WriteStartArray("merges");
        foreach (var merge in merges) w.WriteStringValue(merge);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>GPT-2's pattern is built into ByteLevel; any other regex splits first, then maps bytes without
    /// GPT-2's regex.</summary>
    private static void WritePreTokenizer(Utf8JsonWriter w, string pattern)
    {
        if (pattern == PreTokenizerPatterns.Gpt2)
        {
            WriteByteLevel(w, useRegex: true);
            return;
        }
        w.WriteStartObject();
        w.WriteString("type", "Sequence");
        w.WriteStartArray("pretokenizers");
        w.WriteStartObject();
        w.WriteString("type", "Split");
        w.WriteStartObject("pattern");
        w.WriteString("Regex", pattern);
        w.WriteEndObject();
        w.WriteString("behavior", "Isolated");
        w.WriteBoolean("invert", false);
        w.WriteEndObject();
        WriteByteLevel(w, useRegex: false);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteByteLevel(Utf8JsonWriter w, bool useRegex)
    {
        w.WriteStartObject();
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", false);
        w.WriteBoolean("trim_offsets", true);
        w.WriteBoolean("use_regex", useRegex);
        w.WriteEndObject();
    }
}
