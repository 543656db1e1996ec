namespace PeftEngine.Models.Generation;

/// <summary>Keeps the k highest scores and sets the rest to -infinity; scores tied with the k-th are kept.</summary>
/// <remarks>HF: TopKLogitsWarper (removes scores strictly below the k-th largest; k is at least
/// min_tokens_to_keep and at most the vocabulary).</remarks>
public sealed class TopKProcessor : ILogitsProcessor
{
    /// <summary>Creates the processor for k ≥ 1.</summary>
    public TopKProcessor(int k, int minTokensToKeep = 1)
    {
        if (k <= 0) throw new ArgumentException($"TopKProcessor: k must be positive, got {k}");
        K = Math.Max(k, minTokensToKeep);
    }

    /// <summary>k.</summary>
    public int K { get; }

    /// <inheritdoc/>
    public void Process(IReadOnlyList<long> sequence, Span<double> scores)
    {
        if (K >= scores.Length) return;
        var sorted = scores.ToArray();
        Array.Sort(sorted);                        // ascending
        double kth = sorted[^K];                   // the k-th largest
        for (int i = 0; i < scores.Length; i++)
            if (scores[i] < kth) scores[i] = double.NegativeInfinity;
    }
}
