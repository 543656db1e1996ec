namespace PeftEngine.Models.Generation;

/// <summary>Nucleus filtering: sorts tokens by score and removes the least likely ones whose cumulative
/// probability stays at or below 1 - p, so the kept tokens carry at least probability p.</summary>
/// <remarks>HF: TopPLogitsWarper (Holtzman et al. 2019): ascending sort, softmax, cumulative sum, remove where
/// cumsum ≤ 1 - top_p, always keeping the min_tokens_to_keep most likely.</remarks>
public sealed class TopPProcessor : ILogitsProcessor
{
    /// <summary>Creates the processor for p in (0, 1].</summary>
    public TopPProcessor(double p, int minTokensToKeep = 1)
    {
        if (!(p > 0 && p <= 1)) throw new ArgumentException($"TopPProcessor: p must be in (0, 1], got {p}");
        if (minTokensToKeep < 1) throw new ArgumentException($"TopPProcessor: minTokensToKeep must be ≥ 1, got {minTokensToKeep}");
        P = p;
        MinTokensToKeep = minTokensToKeep;
    }

    /// <summary>p.</summary>
    public double P { get; }

    /// <summary>The most likely tokens never removed.</summary>
    public int MinTokensToKeep { get; }

    /// <inheritdoc/>
    public void Process(IReadOnlyList<long> sequence, Span<double> scores)
    {
        int v = scores.Length;
        var values = scores.ToArray();
        var order = Enumerable.Range(0, v).OrderBy(i => values[i]).ToArray();   // ascending by score, stable
        double max = values.Max();
        var probs = new double[v];
        double total = 0;
        for (int i = 0; i < v; i++) total += probs[i] = Math.Exp(values[order[i]] - max);
        double cumulative = 0;
        for (int i = 0; i < v - MinTokensToKeep; i++)
        {
            cumulative += probs[i] / total;
            if (cumulative <= 1 - P) scores[order[i]] = double.NegativeInfinity;
        }
    }
}
