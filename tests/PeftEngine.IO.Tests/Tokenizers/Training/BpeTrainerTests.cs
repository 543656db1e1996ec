using System.Text;
using PeftEngine.IO.Tokenizers;
using PeftEngine.IO.Tokenizers.Training;

namespace PeftEngine.Tests.Tokenizers.Training;

public class BpeTrainerTests
{
    private static readonly BpeTrainerOptions NoSpecials = new() { SpecialTokens = [], MinFrequency = 1, VocabSize = 1000 };

    [Fact]
    public void HandComputedCorpus_LearnsExpectedMerges()
    {
        // Words: "ab" x1, " ab" x2, " abc" x1. Pair counts: (a,b)=4, (Ġ,a)=3, (b,c)=1 -> merge a+b.
        // Then (Ġ,ab)=3, (ab,c)=1 -> Ġ+ab; then (Ġab,c)=1 -> Ġab+c; then no pairs are left.
        var bpe = BpeTrainer.Train(["ab ab ab abc"], NoSpecials);
        Assert.Equal([("a", "b"), ("Ġ", "ab"), ("Ġab", "c")], bpe.Merges);
        Assert.Equal(256 + 3, bpe.VocabSize);
        Assert.Equal("Ġabc", bpe.Tokens[^1]);
    }

    [Fact]
    public void TiesGoToTheSmallerPairOfIds()
    {
        // Words "xy" and " yx": (Ġ,y), (x,y), (y,x) all occur once. Ids are byte values (Ġ=32, x=120, y=121),
        // so (32,121) wins, then (120,121), then (Ġy=256, x=120).
        var bpe = BpeTrainer.Train(["xy yx"], NoSpecials);
        Assert.Equal([("Ġ", "y"), ("x", "y"), ("Ġy", "x")], bpe.Merges);
    }

    [Fact]
    public void MinFrequency_StopsMerging()
    {
        var bpe = BpeTrainer.Train(["ab ab ab abc"], NoSpecials with { MinFrequency = 2 });
        Assert.Equal([("a", "b"), ("Ġ", "ab")], bpe.Merges);
    }

    [Fact]
    public void VocabSize_IsReachedExactly()
    {
        var options = new BpeTrainerOptions { VocabSize = 4 + 256 + 40 };
        var bpe = BpeTrainer.Train([Corpus(3000, seed: 1)], options);
        Assert.Equal(options.VocabSize, bpe.VocabSize);
        Assert.Equal(40, bpe.Merges.Count);
        Assert.Equal(options.SpecialTokens, bpe.Tokens.Take(4));
    }

    [Fact]
    public void IncrementalCounts_EqualAFullRecountEveryMerge()
    {
        var options = new BpeTrainerOptions { SpecialTokens = [], VocabSize = 256 + 150, MinFrequency = 2 };
        string text = Corpus(2000, seed: 7) + " aaaa aaaaa abab ababab " + Corpus(500, seed: 8);
        var counter = new WordCounter(options.Pattern);
        counter.Add(text);
        var expected = NaiveMerges(counter.Counts, options.VocabSize - 256, options.MinFrequency);
        var bpe = BpeTrainer.Train([text], options);
        Assert.Equal(expected, bpe.Merges);
    }

    [Fact]
    public void Training_IsDeterministic_AndIndependentOfTextOrder()
    {
        string a = Corpus(1500, seed: 3), b = Corpus(1500, seed: 4);
        var options = new BpeTrainerOptions { VocabSize = 600 };
        string first = BpeTrainer.Train([a, b], options).ToJson();
        Assert.Equal(first, BpeTrainer.Train([a, b], options).ToJson());
        Assert.Equal(first, BpeTrainer.Train([b, a], options).ToJson());
    }

    [Fact]
    public void SpecialTokens_AreCutOutOfTheTextAndNeverMerged()
    {
        var bpe = BpeTrainer.Train(["hello<|endoftext|>hello<|endoftext|>hello"], new BpeTrainerOptions { MinFrequency = 2 });
        Assert.DoesNotContain(bpe.Tokens.Skip(4 + 256), t => t.Contains('|'));
        Assert.Contains("hello", bpe.Tokens);
    }

    [Fact]
    public void BadOptions_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => BpeTrainer.Train(["x"], new BpeTrainerOptions { VocabSize = 100 }));
        Assert.Throws<ArgumentException>(() => BpeTrainer.Train(["x"], new BpeTrainerOptions { SpecialTokens = ["<a>", "<a>"] }));
    }

    /// <summary>Pseudo-English made of a small syllable inventory so that merges have something to find.</summary>
    internal static string Corpus(int words, int seed)
    {
        string[] syllables = ["th", "e", "an", "d", "in", "g", "er", "on", "qu", "ick", "fo", "x", "ju", "mp", "ov", "la", "zy", "do"];
        var rng = new Random(seed);
        var sb = new StringBuilder();
        for (int w = 0; w < words; w++)
        {
            int n = 1 + rng.Next(3);
            for (int s = 0; s < n; s++) sb.Append(syllables[rng.Next(syllables.Length)]);
            sb.Append(rng.Next(12) switch { 0 => ". ", 1 => ", ", 2 => "\n", _ => " " });
        }
        return sb.ToString();
    }

    /// <summary>The definition: recount every pair of every word before each merge.</summary>
    private static List<(string, string)> NaiveMerges(IReadOnlyDictionary<string, long> wordCounts, int maxMerges, long minFrequency)
    {
        var tokens = Enumerable.Range(0, 256).Select(b => ByteLevelAlphabet.ByteToChar((byte)b).ToString()).ToList();
        var words = wordCounts.Select(kv => (Symbols: Encoding.UTF8.GetBytes(kv.Key).Select(b => (int)b).ToList(), Count: kv.Value)).ToList();
        var merges = new List<(string, string)>();
        while (tokens.Count < 256 + maxMerges)
        {
            var counts = new Dictionary<(int, int), long>();
            foreach (var (s, c) in words)
                for (int i = 0; i + 1 < s.Count; i++) counts[(s[i], s[i + 1])] = counts.GetValueOrDefault((s[i], s[i + 1])) + c;
            if (counts.Count == 0) break;
            var best = counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key.Item1).ThenBy(kv => kv.Key.Item2).First();
            if (best.Value < minFrequency) break;
            var (l, r) = best.Key;
            string text = tokens[l] + tokens[r];
            int merged = tokens.IndexOf(text);
            if (merged < 0)
            {
                merged = tokens.Count;
                tokens.Add(text);
            }
            merges.Add((tokens[l], tokens[r]));
            foreach (var (s, _) in words)
                for (int i = 0; i + 1 < s.Count; i++)
                    if (s[i] == l && s[i + 1] == r)
                    {
                        s[i] = merged;
                        s.RemoveAt(i + 1);
                    }
        }
        return merges;
    }
}
