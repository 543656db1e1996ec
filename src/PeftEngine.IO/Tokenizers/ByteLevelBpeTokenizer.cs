using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;

namespace PeftEngine.IO.Tokenizers;

/// <summary>
/// Byte-level BPE (GPT-2, Llama-3, Qwen2): the text is cut into words by a regex, each word's UTF-8 bytes are
/// mapped to printable characters (<see cref="ByteLevelAlphabet"/>) and merged pairwise by merge rank. Every
/// byte has a token, so any string encodes without an unknown token and decodes back exactly.
/// </summary>
/// <remarks>Hugging Face equivalent: <c>tokenizers.models.BPE</c> with the <c>ByteLevel</c> pre-tokenizer and
/// decoder (<c>GPT2TokenizerFast</c>, <c>Qwen2TokenizerFast</c>).</remarks>
public sealed class ByteLevelBpeTokenizer : TokenizerBase
{
    private const int MaxCacheEntries = 100_000;
    private readonly Dictionary<long, (int Rank, int Merged)> _merges;
    private readonly Regex? _pattern;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly int[] _byteIds = new int[256];

    /// <summary>
    /// Creates the tokenizer.
    /// </summary>
    /// <param name="vocab">Byte-level token strings to ids.</param>
    /// <param name="merges">Merge pairs, highest priority first (the order of vocab.bpe / tokenizer.json).</param>
    /// <param name="pattern">Pre-tokenizer regex (see <see cref="PreTokenizerPatterns"/>); null treats the whole
    /// text as one word.</param>
    /// <param name="ignoreMerges">When true, a word that is itself a vocabulary token is emitted directly
    /// (Llama-3's <c>ignore_merges</c>).</param>
    /// <param name="normalizeNfc">Apply Unicode NFC to the text first (Qwen2's normalizer).</param>
    public ByteLevelBpeTokenizer(IReadOnlyDictionary<string, int> vocab, IEnumerable<(string Left, string Right)> merges,
        string? pattern = PreTokenizerPatterns.Gpt2, bool ignoreMerges = false, bool normalizeNfc = false)
        : base(vocab)
    {
        for (int b = 0; b < 256; b++)
        {
            string s = ByteLevelAlphabet.ByteToChar((byte)b).ToString();
            if (!vocab.TryGetValue(s, out _byteIds[b]))
                throw new ArgumentException($"ByteLevelBpeTokenizer: the vocabulary has no token for byte 0x{b:X2} ('{s}').", nameof(vocab));
        }
        _merges = new Dictionary<long, (int, int)>();
        int rank = 0;
        foreach (var (l, r) in merges)
        {
            if (vocab.TryGetValue(l, out int a) && vocab.TryGetValue(r, out int bId) && vocab.TryGetValue(l + r, out int m))
                _merges.TryAdd(Key(a, bId), (rank, m));
            rank++;
        }
        _pattern = pattern is null ? null : new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled);
        IgnoreMerges = ignoreMerges;
        NormalizeNfc = normalizeNfc;
    }

    /// <summary>Whether whole-word vocabulary hits bypass merging.</summary>
    public bool IgnoreMerges { get; }

    /// <summary>Whether text is NFC-normalized before splitting.</summary>
    public bool NormalizeNfc { get; }

    /// <summary>Number of usable merge rules.</summary>
    public int MergeCount => _merges.Count;

    private static long Key(int a, int b) => ((long)a << 32) | (uint)b;

    /// <inheritdoc/>
    protected override void EncodeOrdinary(string text, List<int> output)
    {
        if (NormalizeNfc) text = UnicodeNormalization.Nfc(text);
        if (_pattern is null)
        {
            EncodeWord(text, output);
            return;
        }
        for (var m = _pattern.Match(text); m.Success; m = m.NextMatch()) EncodeWord(m.Value, output);
    }

    private void EncodeWord(string word, List<int> output)
    {
        if (word.Length == 0) return;
        if (_cache.TryGetValue(word, out var cached))
        {
            output.AddRange(cached);
            return;
        }
        byte[] bytes = Encoding.UTF8.GetBytes(word);
        int[] ids;
        if (IgnoreMerges && TryGetId(ByteLevelAlphabet.Encode(bytes), out int whole))
        {
            ids = [whole];
        }
        else
        {
            var start = new int[bytes.Length];
            for (int i = 0; i < bytes.Length; i++) start[i] = _byteIds[bytes[i]];
            ids = BpeMerger.Merge(start, TryMerge).ToArray();
        }
        if (_cache.Count >= MaxCacheEntries) _cache.Clear();
        _cache[word] = ids;
        output.AddRange(ids);
    }

    private bool TryMerge(int left, int right, out int merged, out double priority)
    {
        if (_merges.TryGetValue(Key(left, right), out var e))
        {
            merged = e.Merged;
            priority = e.Rank;
            return true;
        }
        merged = 0;
        priority = 0;
        return false;
    }

    /// <inheritdoc/>
    protected override string DecodeOrdinary(IReadOnlyList<int> ids)
    {
        var bytes = new List<byte>(ids.Count * 4);
        foreach (int id in ids) ByteLevelAlphabet.AppendBytes(IdToToken(id) ?? "", bytes);
        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}
