namespace PeftEngine.Models.Generation;

/// <summary>Choosing a token from processed scores: the argmax, or a draw from softmax(scores).</summary>
/// <remarks>HF: torch.argmax(next_token_scores) for greedy search; torch.multinomial(softmax(scores), 1) for
/// sampling (here by inverting the cumulative distribution at one uniform number).</remarks>
public static class Sampling
{
    /// <summary>The index of the largest score (the first one on ties, as torch.argmax).</summary>
    public static long ArgMax(ReadOnlySpan<double> scores)
    {
        int best = 0;
        for (int i = 1; i < scores.Length; i++)
            if (scores[i] > scores[best] || (double.IsNaN(scores[i]) && !double.IsNaN(scores[best]))) best = i;
        return best;
    }

    /// <summary>The token i with cdf(i-1) ≤ u·Σ &lt; cdf(i) under p ∝ exp(score); tokens at -inf are never drawn.</summary>
    /// <param name="scores">Processed scores (V).</param>
    /// <param name="uniform">u in [0, 1).</param>
    public static long Draw(ReadOnlySpan<double> scores, double uniform)
    {
        double max = double.NegativeInfinity;
        foreach (double s in scores) if (s > max) max = s;
        if (double.IsNegativeInfinity(max) || double.IsNaN(max))
            throw new InvalidOperationException("Sampling.Draw: every score is -infinity or NaN; nothing can be drawn");
        var weights = new double[scores.Length];
        double total = 0;
        for (int i = 0; i < scores.Length; i++) total += weights[i] = Math.Exp(scores[i] - max);
        double target = uniform * total, cumulative = 0;
        int last = -1;
        for (int i = 0; i < weights.Length; i++)
        {
            if (weights[i] == 0) continue;
            last = i;
            cumulative += weights[i];
            if (target < cumulative) return i;
        }
        return last;   // rounding left the target at the very top
    }
}
