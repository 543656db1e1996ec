using System.Text;

namespace PeftEngine.IO.Tokenizers;

/// <summary>
/// BERT's WordPiece: after <see cref="BertPreTokenizer"/> splits the text into words, each word is cut greedily
/// into the longest vocabulary prefix, then the longest "##"-prefixed continuation, and so on. A word with an
/// unmatchable piece, or longer than <see cref="MaxCharsPerWord"/>, becomes a single [UNK]. Encoding with special
/// tokens wraps the ids in [CLS] ... [SEP].
/// </summary>
/// <remarks>Hugging Face equivalent: <c>BertTokenizerFast</c> (<c>tokenizers.models.WordPiece</c>).</remarks>
public sealed class WordPieceTokenizer : TokenizerBase
{
    /// <summary>Creates the tokenizer; [CLS], [SEP], [PAD], [UNK], [MASK] are registered as special tokens when present.</summary>
    public WordPieceTokenizer(IReadOnlyDictionary<string, int> vocab, BertPreTokenizer? preTokenizer = null,
        string unkToken = "[UNK]", string continuingPrefix = "##", int maxCharsPerWord = 100)
        : base(vocab)
    {
        PreTokenizer = preTokenizer ?? new BertPreTokenizer();
        ContinuingPrefix = continuingPrefix;
        MaxCharsPerWord = maxCharsPerWord;
        if (!vocab.TryGetValue(unkToken, out int unk))
            throw new ArgumentException($"WordPieceTokenizer: unknown token '{unkToken}' is not in the vocabulary.", nameof(vocab));
        UnkTokenId = unk;
        var specials = new List<AddedToken>();
        foreach (var name in new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" })
        {
            if (vocab.TryGetValue(name, out int id)) specials.Add(new AddedToken(id, name));
        }
        AddTokens(specials);
        if (vocab.TryGetValue("[PAD]", out int pad)) PadTokenId = pad;
        if (vocab.TryGetValue("[CLS]", out int cls) && vocab.TryGetValue("[SEP]", out int sep))
        {
            PrefixTokens = [cls];
            SuffixTokens = [sep];
            BosTokenId = cls;
            EosTokenId = sep;
        }
    }

    /// <summary>The normalizer and word splitter.</summary>
    public BertPreTokenizer PreTokenizer { get; }

    /// <summary>Prefix marking a piece that continues a word ("##").</summary>
    public string ContinuingPrefix { get; }

    /// <summary>Words longer than this (in characters) become [UNK].</summary>
    public int MaxCharsPerWord { get; }

    /// <inheritdoc/>
    protected override void EncodeOrdinary(string text, List<int> output)
    {
        foreach (string word in PreTokenizer.Split(text)) EncodeWord(word, output);
    }

    private void EncodeWord(string word, List<int> output)
    {
        var runes = word.EnumerateRunes().Select(r => r.ToString()).ToArray();
        if (runes.Length > MaxCharsPerWord)
        {
            output.Add(UnkTokenId!.Value);
            return;
        }
        var pieces = new List<int>();
        int start = 0;
        while (start < runes.Length)
        {
            int end = runes.Length;
            int found = -1;
            while (start < end)
            {
                string piece = string.Concat(runes.AsSpan(start, end - start).ToArray());
                if (start > 0) piece = ContinuingPrefix + piece;
                if (TryGetId(piece, out int id))
                {
                    found = id;
                    break;
                }
                end--;
            }
            if (found < 0)
            {
                output.Add(UnkTokenId!.Value);
                return;
            }
            pieces.Add(found);
            start = end;
        }
        output.AddRange(pieces);
    }

    /// <inheritdoc/>
    protected override string DecodeOrdinary(IReadOnlyList<int> ids)
    {
        var sb = new StringBuilder();
        foreach (int id in ids)
        {
            string tok = IdToToken(id) ?? "";
            if (tok.StartsWith(ContinuingPrefix, StringComparison.Ordinal)) sb.Append(tok.AsSpan(ContinuingPrefix.Length));
            else
            {
                if (sb.Length > 0) sb.Append(' ');
                sb.Append(tok);
            }
        }
        return sb.ToString();
    }
}
