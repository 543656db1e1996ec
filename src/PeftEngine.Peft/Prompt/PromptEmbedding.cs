using PeftEngine.Nn;

namespace PeftEngine.Peft.Prompt;

/// <summary>
/// The trained virtual tokens of prompt tuning: an <c>embedding</c> table (n, token_dim) whose rows are prepended
/// to the input embeddings.
/// </summary>
/// <remarks>HF: peft.tuners.prompt_tuning.PromptEmbedding (child <c>embedding</c>, so the parameter is
/// <c>prompt_encoder.default.embedding.weight</c>).</remarks>
public sealed class PromptEmbedding : Module
{
    /// <summary>Creates the table with <paramref name="initial"/> rows (n, token_dim) in F32, or N(0, 1) rows when null.</summary>
    public PromptEmbedding(int numTokens, int tokenDim, Tensor? initial, Generator? generator)
    {
        var embedding = RegisterModule("embedding", new Embedding(numTokens, tokenDim, generator: generator));
        if (initial is null) return;
        if (initial.Shape != embedding.Weight.Shape)
            throw new ArgumentException($"PromptEmbedding: initial rows {initial.Shape} do not match ({numTokens}, {tokenDim})");
        using var _ = GradMode.Disable();
        using var f32 = initial.DType == DType.F32 ? initial.Alias() : Ops.Cast(initial, DType.F32);
        Ops.CopyInPlace(embedding.Weight, f32);
    }

    /// <summary>The table (n, token_dim).</summary>
    public Parameter Weight => GetSubmodule<Embedding>("embedding").Weight;

    /// <summary>The n virtual tokens (n, token_dim), with the graph to <see cref="Weight"/>.</summary>
    /// <remarks>HF: PromptEmbedding.forward(arange(n)).</remarks>
    public Tensor Tokens()
    {
        int n = Weight.Shape[0];
        using var ids = Ops.Arange(0, n, dtype: DType.I64);   // (n)
        return GetChild("embedding").Forward(ids);             // (n) -> (n, token_dim)
    }
}
