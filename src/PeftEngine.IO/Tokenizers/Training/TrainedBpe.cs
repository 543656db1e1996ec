using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace PeftEngine.IO.Tokenizers.Training;

/// <summary>
/// A byte-level BPE vocabulary learned by <see cref="BpeTrainer"/>: the tokens by id, the merges in priority
/// order and the special tokens. Saves as a Hugging Face <c>tokenizer.json</c> that
/// <see cref="TokenizerJsonLoader"/> (and HF <c>tokenizers</c>) read back.
/// </summary>
/// <param name="Tokens">Token strings by id, in byte-level characters (special tokens verbatim).</param>
/// <param name="Merges">The merge rules, highest priority (first learned) first.</param>
/// <param name="SpecialTokens">The special tokens (ids 0 .. count−1).</param>
/// <param name="Pattern">The pre-tokenizer regex the vocabulary was learned with.</param>
/// <remarks>Hugging Face equivalent: the <c>Tokenizer</c> object after <c>tokenizer.train(...)</c>, and
/// <c>tokenizer.save(path)</c>.</remarks>
public sealed record TrainedBpe(IReadOnlyList<string> Tokens, IReadOnlyList<(string Left, string Right)> Merges,
    IReadOnlyList<string> SpecialTokens, string Pattern)
{
    /// <summary>Number of tokens (special + bytes + merges).</summary>
    public int VocabSize => Tokens.Count;

    /// <summary>The HF <c>tokenizer.json</c> text (indented, non-ASCII characters written literally).</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        WriteJson(buffer);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Writes <c>tokenizer.json</c> atomically (a temporary file renamed over the target).</summary>
    public void Save(string path) => AtomicFile.Write(path, WriteJson);

    /// <summary>The tokenizer itself, built by loading the JSON it would save (so it equals a reloaded file).</summary>
    public TokenizerBase ToTokenizer()
    {
        using var buffer = new MemoryStream();
        WriteJson(buffer);
        buffer.Position = 0;
        return TokenizerJsonLoader.Load(buffer);
    }

    private void WriteJson(Stream stream)
    {
        var options = new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using var w = new Utf8JsonWriter(stream, options);
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");
        w.WriteStartArray("added_tokens");
        for (int i = 0; i < SpecialTokens.Count; i++)
        {
            w.WriteStartObject();
            w.WriteNumber("id", i);
            w.WriteString("content", SpecialTokens[i]);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("lstrip", false);
            w.WriteBoolean("rstrip", false);
            w.WriteBoolean("normalized", false);
            w.WriteBoolean("special", true);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNull("normalizer");
        bool gpt2 = Pattern == PreTokenizerPatterns.Gpt2;
        w.WritePropertyName("pre_tokenizer");
        if (gpt2)
        {
            WriteByteLevel(w, useRegex: true);
        }
        else
        {
            // A custom regex: split with it, then map bytes without GPT-2's built-in regex.
            w.WriteStartObject();
            w.WriteString("type", "Sequence");
            w.WriteStartArray("pretokenizers");
            w.WriteStartObject();
            w.WriteString("type", "Split");
            w.WriteStartObject("pattern");
            w.WriteString("Regex", Pattern);
            w.WriteEndObject();
            w.WriteString("behavior", "Isolated");
            w.WriteBoolean("invert", false);
            w.WriteEndObject();
            WriteByteLevel(w, useRegex: false);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WritePropertyName("post_processor");
        WriteByteLevel(w, useRegex: true);
        w.WritePropertyName("decoder");
        WriteByteLevel(w, useRegex: true);
        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        w.WriteNull("unk_token");
        w.WriteNull("continuing_subword_prefix");
        w.WriteNull("end_of_word_suffix");
        w.WriteBoolean("fuse_unk", false);
        w.WriteBoolean("byte_fallback", false);
        w.WriteBoolean("ignore_merges", false);
        w.WriteStartObject("vocab");
        for (int id = 0; id < Tokens.Count; id++) w.WriteNumber(Tokens[id], id);
        w.WriteEndObject();
        w.WriteStartArray("merges");
        foreach (var (l, r) in Merges) w.WriteStringValue(l + " " + r);   // byte-level tokens never contain a space
        w.WriteEndArray();
        w.WriteEndObject();
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
