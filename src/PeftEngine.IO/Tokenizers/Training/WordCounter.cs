using System.Text.RegularExpressions;

namespace PeftEngine.IO.Tokenizers.Training;

/// <summary>
/// The first pass of BPE training: cuts text into words with the pre-tokenizer regex and counts how often each
/// distinct word occurs. Special tokens are cut out of the text first, so no word spans one.
/// </summary>
/// <remarks>Hugging Face equivalent: the word-count pass of <c>BpeTrainer.feed</c>.</remarks>
public sealed class WordCounter
{
    private readonly Regex _pattern;
    private readonly IReadOnlyList<string> _specialTokens;
    private readonly Dictionary<string, long> _counts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    /// <summary>Creates an empty counter splitting with <paramref name="pattern"/>.</summary>
    public WordCounter(string pattern, IReadOnlyList<string>? specialTokens = null)
    {
        _pattern = new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled);
        _specialTokens = specialTokens ?? [];
        _lookup = _counts.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Distinct words seen so far with their counts.</summary>
    public IReadOnlyDictionary<string, long> Counts => _counts;

    /// <summary>Adds the words of <paramref name="text"/>.</summary>
    public void Add(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int start = 0;
        while (start < text.Length)
        {
            var (at, length) = NextSpecial(text, start);
            CountWords(text.AsSpan(start, at - start));
            start = at + length;
        }
    }

    private (int At, int Length) NextSpecial(string text, int from)
    {
        int best = text.Length, length = 0;
        foreach (var s in _specialTokens)
        {
            int i = text.IndexOf(s, from, best - from, StringComparison.Ordinal);
            if (i >= 0 && (i < best || (i == best && s.Length > length)))
            {
                best = i;
                length = s.Length;
            }
        }
        return (best, length);
    }

    private void CountWords(ReadOnlySpan<char> text)
    {
        foreach (var m in _pattern.EnumerateMatches(text))
        {
            if (m.Length == 0) continue;
            var word = text.Slice(m.Index, m.Length);
            if (_lookup.TryGetValue(word, out long c)) _lookup[word] = c + 1;
            else _counts[word.ToString()] = 1;
        }
    }
}
