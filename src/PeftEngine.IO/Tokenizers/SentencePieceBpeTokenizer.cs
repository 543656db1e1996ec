using System.Text;

namespace PeftEngine.IO.Tokenizers;

/// <summary>
/// SentencePiece-style BPE (Llama-2, Mistral, Phi-3): spaces become '▁' (U+2581) and a '▁' is prepended, the text
/// is split into characters which merge pairwise, and characters missing from the vocabulary fall back to their
/// UTF-8 bytes as <c>&lt;0xNN&gt;</c> tokens. Merges come either from a ranked merge list (Hugging Face
/// tokenizer.json) or from token scores (the SentencePiece model / GGUF: the pair whose merged token has the
/// highest score merges first).
/// </summary>
/// <remarks>Hugging Face equivalent: <c>LlamaTokenizerFast</c> (BPE with <c>byte_fallback</c>, the
/// Prepend/Replace normalizer and the Replace/ByteFallback/Fuse/Strip decoder).</remarks>
public sealed class SentencePieceBpeTokenizer : TokenizerBase
{
    /// <summary>The SentencePiece word-boundary character '▁' (U+2581).</summary>
    public const char SpaceMarker = '\u2581';

    private readonly Dictionary<long, (int Rank, int Merged)>? _merges;
    private readonly float[]? _scores;
    private readonly int[]? _byteIds;

    /// <summary>Creates a tokenizer whose merges come from a ranked merge list.</summary>
    public SentencePieceBpeTokenizer(IReadOnlyDictionary<string, int> vocab, IEnumerable<(string Left, string Right)> merges,
        bool byteFallback = true, bool addPrefixSpace = true, string? unkToken = "<unk>")
        : this(vocab, byteFallback, addPrefixSpace, unkToken)
    {
        _merges = new Dictionary<long, (int, int)>();
        int rank = 0;
        foreach (var (l, r) in merges)
        {
            if (vocab.TryGetValue(l, out int a) && vocab.TryGetValue(r, out int b) && vocab.TryGetValue(l + r, out int m))
                _merges.TryAdd(((long)a << 32) | (uint)b, (rank, m));
            rank++;
        }
    }

    /// <summary>Creates a tokenizer whose merges are driven by per-token scores (indexed by id).</summary>
    public SentencePieceBpeTokenizer(IReadOnlyDictionary<string, int> vocab, IReadOnlyList<float> scores,
        bool byteFallback = true, bool addPrefixSpace = true, string? unkToken = "<unk>")
        : this(vocab, byteFallback, addPrefixSpace, unkToken)
    {
        if (scores.Count < ModelVocabSize)
            throw new ArgumentException($"SentencePieceBpeTokenizer: {scores.Count} scores for a vocabulary of {ModelVocabSize} ids.", nameof(scores));
        _scores = scores.ToArray();
    }

    private SentencePieceBpeTokenizer(IReadOnlyDictionary<string, int> vocab, bool byteFallback, bool addPrefixSpace, string? unkToken)
        : base(vocab)
    {
        AddPrefixSpace = addPrefixSpace;
        if (unkToken is not null && vocab.TryGetValue(unkToken, out int unk)) UnkTokenId = unk;
        if (byteFallback)
        {
            _byteIds = new int[256];
            for (int b = 0; b < 256; b++)
            {
                string name = $"<0x{b:X2}>";
                if (!vocab.TryGetValue(name, out _byteIds[b]))
                    throw new ArgumentException($"SentencePieceBpeTokenizer: byte fallback needs token '{name}', which is missing.", nameof(vocab));
            }
        }
    }

    /// <summary>Whether a '▁' is prepended to each stretch of text (SentencePiece's add_dummy_prefix).</summary>
    public bool AddPrefixSpace { get; }

    /// <inheritdoc/>
    protected override void EncodeOrdinary(string text, List<int> output)
    {
        if (text.Length == 0) return;
        string normalized = (AddPrefixSpace ? SpaceMarker + text : text).Replace(' ', SpaceMarker);
        // Initial symbols: one per Unicode scalar. Characters outside the vocabulary get a negative placeholder
        // ~(index into chars) so they never merge and can be expanded to bytes afterwards.
        var chars = new List<string>();
        var ids = new List<int>();
        foreach (var rune in normalized.EnumerateRunes())
        {
            string s = rune.ToString();
            ids.Add(TryGetId(s, out int id) ? id : ~chars.Count);
            chars.Add(s);
        }
        var merged = BpeMerger.Merge(ids, TryMerge);
        bool lastWasUnk = false;
        foreach (int id in merged)
        {
            if (id >= 0)
            {
                output.Add(id);
                lastWasUnk = false;
                continue;
            }
            string ch = chars[~id];
            if (_byteIds is not null)
            {
                foreach (byte b in Encoding.UTF8.GetBytes(ch)) output.Add(_byteIds[b]);
            }
            else if (UnkTokenId is int unk)
            {
                if (!lastWasUnk) output.Add(unk);   // consecutive unknown characters fuse into one <unk>
                lastWasUnk = true;
            }
            else
            {
                throw new InvalidOperationException($"SentencePieceBpeTokenizer: character '{ch}' is not in the vocabulary and there is neither byte fallback nor an unknown token.");
            }
        }
    }

    private bool TryMerge(int left, int right, out int merged, out double priority)
    {
        merged = 0;
        priority = 0;
        if (_merges is not null)
        {
            if (!_merges.TryGetValue(((long)left << 32) | (uint)right, out var e)) return false;
            merged = e.Merged;
            priority = e.Rank;
            return true;
        }
        if (!TryGetId(IdToToken(left) + IdToToken(right), out merged) || merged >= ModelVocabSize) return false;
        priority = -_scores![merged];
        return true;
    }

    /// <inheritdoc/>
    protected override string DecodeOrdinary(IReadOnlyList<int> ids)
    {
        var sb = new StringBuilder();
        var pending = new List<byte>();
        void FlushBytes()
        {
            if (pending.Count == 0) return;
            sb.Append(Encoding.UTF8.GetString(pending.ToArray()));
            pending.Clear();
        }
        foreach (int id in ids)
        {
            string tok = IdToToken(id) ?? "";
            if (_byteIds is not null && tok.Length == 6 && tok.StartsWith("<0x", StringComparison.Ordinal) && tok[5] == '>'
                && byte.TryParse(tok.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out byte b))
            {
                pending.Add(b);
                continue;
            }
            FlushBytes();
            sb.Append(tok.Replace(SpaceMarker, ' '));
        }
        FlushBytes();
        return sb.ToString();
    }

    /// <inheritdoc/>
    protected override string FinishDecode(string text) =>
        AddPrefixSpace && text.StartsWith(' ') ? text.Substring(1) : text;
}
