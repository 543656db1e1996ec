using System.Text;

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

    private void WriteJson(Stream stream) => ByteLevelTokenizerJson.Write(stream,
        SpecialTokens.Select((content, id) => new AddedToken(id, content)), Pattern, Tokens,
        Merges.Select(m => m.Left + " " + m.Right));   // byte-level tokens never contain a space
}
