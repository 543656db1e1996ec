using System.Text.Json;

namespace PeftEngine.IO.Tokenizers;

/// <summary>Sections of a Hugging Face <c>tokenizer.json</c> that the writers for different models share: the
/// added-token list and the TemplateProcessing post-processor that adds BOS/EOS tokens.</summary>
internal static class TokenizerJsonParts
{
    /// <summary>Writes <c>"added_tokens": [...]</c> (none is normalized; lstrip/rstrip/special as given).</summary>
    public static void WriteAddedTokens(Utf8JsonWriter w, IEnumerable<AddedToken> addedTokens)
    {
        w.WriteStartArray("added_tokens");
        foreach (var token in addedTokens)
        {
            w.WriteStartObject();
            w.WriteNumber("id", token.Id);
            w.WriteString("content", token.Content);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("lstrip", token.LStrip);
            w.WriteBoolean("rstrip", token.RStrip);
            w.WriteBoolean("normalized", false);
            w.WriteBoolean("special", token.Special);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>A TemplateProcessing post-processor: "BOS $A EOS" for one sequence and "BOS $A EOS BOS $B EOS" for
    /// a pair, leaving out whichever of BOS and EOS is null.</summary>
    public static void WriteSpecialTokenTemplate(Utf8JsonWriter w, AddedToken? bos, AddedToken? eos)
    {
        w.WriteStartObject();
        w.WriteString("type", "TemplateProcessing");
        w.WriteStartArray("single");
        WriteSequence(w, bos, "A", eos, 0);
        w.WriteEndArray();
        w.WriteStartArray("pair");
        WriteSequence(w, bos, "A", eos, 0);
        WriteSequence(w, bos, "B", eos, 1);
        w.WriteEndArray();
        w.WriteStartObject("special_tokens");
        foreach (var token in new[] { bos, eos }.OfType<AddedToken>().DistinctBy(t => t.Content))
        {
            w.WriteStartObject(token.Content);
            w.WriteString("id", token.Content);
            w.WriteStartArray("ids"); w.WriteNumberValue(token.Id); w.WriteEndArray();
            w.WriteStartArray("tokens"); w.WriteStringValue(token.Content); w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>Opens <c>"model": {</c> of a BPE model and writes its settings and vocabulary (a repeated token
    /// keeps its first id); the caller writes the merges and closes the object.</summary>
    public static void WriteBpeModelStart(Utf8JsonWriter w, string? unkToken, bool fuseUnk, bool byteFallback, bool ignoreMerges, IReadOnlyList<string> vocab)
    {
        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        if (unkToken is null) w.WriteNull("unk_token");
        else w.WriteString("unk_token", unkToken);
        w.WriteNull("continuing_subword_prefix");
        w.WriteNull("end_of_word_suffix");
        w.WriteBoolean("fuse_unk", fuseUnk);
        w.WriteBoolean("byte_fallback", byteFallback);
        w.WriteBoolean("ignore_merges", ignoreMerges);
        w.WriteStartObject("vocab");
        var written = new HashSet<string>(StringComparer.Ordinal);
        for (int id = 0; id < vocab.Count; id++)
            if (written.Add(vocab[id])) w.WriteNumber(vocab[id], id);
        w.WriteEndObject();
    }

    private static void WriteSequence(Utf8JsonWriter w, AddedToken? bos, string sequence, AddedToken? eos, int typeId)
    {
        if (bos is not null) WritePiece(w, "SpecialToken", bos.Content, typeId);
        WritePiece(w, "Sequence", sequence, typeId);
        if (eos is not null) WritePiece(w, "SpecialToken", eos.Content, typeId);
    }

    private static void WritePiece(Utf8JsonWriter w, string kind, string id, int typeId)
    {
        w.WriteStartObject();
        w.WriteStartObject(kind);
        w.WriteString("id", id);
        w.WriteNumber("type_id", typeId);
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
