using System.Text;

namespace PeftEngine.IO.Tokenizers.Training;

/// <summary>
/// Learns a byte-level BPE vocabulary (GPT-2 style). Every distinct word of the corpus starts as its UTF-8 bytes;
/// the most frequent adjacent pair of symbols (weighted by word counts) is merged into a new symbol, again and
/// again, until the vocabulary reaches its target size or no pair is frequent enough.
/// </summary>
/// <remarks>
/// <para>Ids: special tokens first (0 .. S−1), then the 256 bytes in byte order (S .. S+255), then one id per
/// merge in the order learned. Ties between equally frequent pairs go to the pair with the smaller
/// (left id, right id), so a corpus always gives the same merges.</para>
/// <para>Pair counts are kept up to date incrementally: a merge only revisits the words that contain the merged
/// pair (an index from pair to words), and a priority queue with lazy re-insertion picks the next best pair, so
/// one merge costs time proportional to the words it touches, not to the corpus.</para>
/// <para>Hugging Face equivalent: <c>tokenizers.trainers.BpeTrainer</c> with the ByteLevel pre-tokenizer and
/// initial alphabet.</para>
/// </remarks>
public static class BpeTrainer
{
    /// <summary>Counts the words of <paramref name="texts"/> and learns the vocabulary.</summary>
    public static TrainedBpe Train(IEnumerable<string> texts, BpeTrainerOptions? options = null)
    {
        options ??= new BpeTrainerOptions();
        options.Validate();
        var counter = new WordCounter(options.Pattern, options.SpecialTokens);
        foreach (var t in texts) counter.Add(t);
        return Train(counter.Counts, options);
    }

    /// <summary>Learns the vocabulary from words already counted (each key is one pre-tokenized word).</summary>
    public static TrainedBpe Train(IReadOnlyDictionary<string, long> wordCounts, BpeTrainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(wordCounts);
        options ??= new BpeTrainerOptions();
        options.Validate();
        int firstByte = options.SpecialTokens.Count;
        var tokens = new List<string>(options.VocabSize);
        tokens.AddRange(options.SpecialTokens);
        for (int b = 0; b < 256; b++) tokens.Add(ByteLevelAlphabet.ByteToChar((byte)b).ToString());
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < tokens.Count; id++) ids.TryAdd(tokens[id], id);

        // Words in ordinal order so every container below is filled in the same order on every run.
        var words = wordCounts.Where(kv => kv.Value > 0 && kv.Key.Length > 0)
            .OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        var symbols = new int[words.Count][];
        var lengths = new int[words.Count];
        var counts = new long[words.Count];
        for (int w = 0; w < words.Count; w++)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(words[w].Key);
            symbols[w] = new int[bytes.Length];
            for (int i = 0; i < bytes.Length; i++) symbols[w][i] = firstByte + bytes[i];
            lengths[w] = bytes.Length;
            counts[w] = words[w].Value;
        }

        var pairCounts = new Dictionary<long, long>();
        var pairWords = new Dictionary<long, HashSet<int>>();
        for (int w = 0; w < symbols.Length; w++)
            for (int i = 0; i + 1 < lengths[w]; i++)
            {
                long key = Key(symbols[w][i], symbols[w][i + 1]);
                pairCounts[key] = pairCounts.GetValueOrDefault(key) + counts[w];
                WordsOf(pairWords, key).Add(w);
            }

        // Min-queue on (−count, pair key): the most frequent pair first, the smaller (left, right) on ties.
        var queue = new PriorityQueue<long, (long, long)>();
        foreach (var (key, c) in pairCounts) queue.Enqueue(key, (-c, key));

        var merges = new List<(int Left, int Right)>();
        var touched = new HashSet<long>();
        while (tokens.Count < options.VocabSize && queue.TryDequeue(out long best, out var priority))
        {
            long current = pairCounts.GetValueOrDefault(best);
            if (current != -priority.Item1)
            {
                // Stale entry (the pair's count changed since it was queued): re-queue with the true count. Every pair
                // whose count rose was queued afresh when it rose, so that entry comes out first.
                if (current > 0) queue.Enqueue(best, (-current, best));
                continue;
            }
            if (current < options.MinFrequency) break;
            int left = (int)(best >> 32), right = (int)(uint)best;
            // Two merge paths can spell the same string ("ab"+"c", "a"+"bc"): the merge is kept, the token reused.
            string text = tokens[left] + tokens[right];
            if (!ids.TryGetValue(text, out int merged))
            {
                merged = tokens.Count;
                tokens.Add(text);
                ids[text] = merged;
            }
            merges.Add((left, right));

            touched.Clear();
            foreach (int w in pairWords[best])
                MergeInWord(symbols[w], ref lengths[w], counts[w], w, left, right, merged, pairCounts, pairWords, touched);
            pairCounts.Remove(best);
            pairWords.Remove(best);
            foreach (long key in touched)
                if (pairCounts.TryGetValue(key, out long c) && c > 0) queue.Enqueue(key, (-c, key));
        }

        return new TrainedBpe(tokens, merges.Select(m => (tokens[m.Left], tokens[m.Right])).ToList(),
            options.SpecialTokens.ToList(), options.Pattern);
    }

    /// <summary>
    /// Replaces every non-overlapping (left, right) in one word by <paramref name="merged"/>, scanning left to
    /// right, and updates the pair counts: the word's old pairs are subtracted, its new pairs added, and pairs that
    /// contain the new symbol are indexed and reported in <paramref name="touched"/>.
    /// </summary>
    private static void MergeInWord(int[] sym, ref int length, long count, int word, int left, int right, int merged,
        Dictionary<long, long> pairCounts, Dictionary<long, HashSet<int>> pairWords, HashSet<long> touched)
    {
        bool found = false;
        for (int i = 0; i + 1 < length && !found; i++) found = sym[i] == left && sym[i + 1] == right;
        if (!found) return;   // the index may still list a word whose pair an earlier merge consumed

        for (int i = 0; i + 1 < length; i++)
        {
            long key = Key(sym[i], sym[i + 1]);
            pairCounts[key] -= count;
        }
        int n = 0;
        for (int i = 0; i < length;)
        {
            if (i + 1 < length && sym[i] == left && sym[i + 1] == right)
            {
                sym[n++] = merged;
                i += 2;
            }
            else
            {
                sym[n++] = sym[i++];
            }
        }
        length = n;
        for (int i = 0; i + 1 < length; i++)
        {
            long key = Key(sym[i], sym[i + 1]);
            pairCounts[key] = pairCounts.GetValueOrDefault(key) + count;
            if (sym[i] == merged || sym[i + 1] == merged)
            {
                WordsOf(pairWords, key).Add(word);
                touched.Add(key);
            }
        }
    }

    private static HashSet<int> WordsOf(Dictionary<long, HashSet<int>> index, long key)
    {
        if (!index.TryGetValue(key, out var set)) index[key] = set = new HashSet<int>();
        return set;
    }

    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;
}
