namespace PeftEngine.IO.Tokenizers;

/// <summary>
/// Rebuilds a ranked BPE merge list from a SentencePiece vocabulary with scores, so that a score-driven SentencePiece
/// BPE model can be written as a Hugging Face BPE model: every way of splitting a piece into two pieces that are both
/// in the vocabulary is a merge, and merges rank by the score of the piece they make (highest first).
/// </summary>
/// <remarks>Hugging Face equivalent: <c>SentencePieceExtractor.extract</c> in transformers'
/// <c>convert_slow_tokenizer.py</c> (used by <c>LlamaConverter</c>): per piece, in vocabulary order, its splits
/// ordered by the ids of (left, right); then a stable sort by score, descending.</remarks>
public static class SentencePieceMerges
{
    /// <summary>The merges of <paramref name="tokens"/> (indexed by id) ranked by <paramref name="scores"/>.</summary>
    public static List<(string Left, string Right)> FromScores(IReadOnlyList<string> tokens, IReadOnlyList<float> scores)
    {
        if (scores.Count != tokens.Count)
            throw new ArgumentException($"SentencePieceMerges: {scores.Count} scores for {tokens.Count} tokens.", nameof(scores));
        var ids = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++) ids.TryAdd(tokens[i], i);

        var merges = new List<(string Left, string Right, float Score)>();
        var local = new List<(string Left, string Right, float Score)>();
        for (int id = 0; id < tokens.Count; id++)
        {
            string piece = tokens[id];
            if (ids[piece] != id) continue;                  // a repeated piece counts once
            local.Clear();
            // split between code points (Python slices strings by code point, so surrogate pairs stay whole)
            for (int cut = 1; cut < piece.Length; cut++)
            {
                if (char.IsLowSurrogate(piece[cut])) continue;
                string left = piece[..cut], right = piece[cut..];
                if (ids.ContainsKey(left) && ids.ContainsKey(right)) local.Add((left, right, scores[id]));
            }
            local.Sort((a, b) => ids[a.Left] != ids[b.Left] ? ids[a.Left].CompareTo(ids[b.Left]) : ids[a.Right].CompareTo(ids[b.Right]));
            merges.AddRange(local);
        }
        // OrderByDescending is a stable sort: equal scores keep the order above
        return merges.OrderByDescending(m => m.Score).Select(m => (m.Left, m.Right)).ToList();
    }
}
