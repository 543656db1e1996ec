namespace PeftEngine.Models.Generation;

/// <summary>Changes the next-token scores of one sequence before a token is chosen.</summary>
/// <remarks>HF: transformers.LogitsProcessor / LogitsWarper (which act on a (batch, vocab) tensor; here one row at
/// a time). Removed tokens get -infinity, as HF's filter_value.</remarks>
public interface ILogitsProcessor
{
    /// <summary>Rewrites <paramref name="scores"/> (V) in place; <paramref name="sequence"/> is every token of the
    /// row so far (prompt and generated).</summary>
    void Process(IReadOnlyList<long> sequence, Span<double> scores);
}
