namespace PeftEngine.Models.Generation;

/// <summary>Makes tokens already in the sequence less likely: a positive score s becomes s / θ and a negative
/// one s · θ (θ &gt; 1 penalises, θ &lt; 1 encourages). A token seen several times is penalised once.</summary>
/// <remarks>HF: RepetitionPenaltyLogitsProcessor (Keskar et al. 2019, CTRL); the sequence includes the prompt.</remarks>
public sealed class RepetitionPenaltyProcessor : ILogitsProcessor
{
    /// <summary>Creates the processor for penalty θ &gt; 0.</summary>
    public RepetitionPenaltyProcessor(double penalty)
    {
        if (!(penalty > 0)) throw new ArgumentException($"RepetitionPenaltyProcessor: penalty must be positive, got {penalty}");
        Penalty = penalty;
    }

    /// <summary>θ.</summary>
    public double Penalty { get; }

    /// <inheritdoc/>
    public void Process(IReadOnlyList<long> sequence, Span<double> scores)
    {
        var seen = new HashSet<long>();
        foreach (long token in sequence)
        {
            if (token < 0 || token >= scores.Length || !seen.Add(token)) continue;
            double s = scores[(int)token];
            scores[(int)token] = s < 0 ? s * Penalty : s / Penalty;
        }
    }
}
