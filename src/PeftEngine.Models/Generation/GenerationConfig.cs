namespace PeftEngine.Models.Generation;

/// <summary>How <see cref="TextGeneration.Generate"/> picks tokens: greedy or sampled, with HF's logits
/// processors, and when it stops.</summary>
/// <remarks>HF: transformers.GenerationConfig (the same field meanings and defaults, in C# names). Processors run
/// in HF's order: repetition penalty on every step; temperature, top-k and top-p only when sampling.</remarks>
public sealed record GenerationConfig
{
    /// <summary>Tokens to add at most (max_new_tokens).</summary>
    public int MaxNewTokens { get; init; } = 20;

    /// <summary>Sample from the distribution (true) or take the most likely token (false, greedy).</summary>
    public bool DoSample { get; init; }

    /// <summary>Divides the logits before sampling (&gt; 0; 1 = unchanged). Only used when sampling.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Keep only the k most likely tokens (0 = off). Only used when sampling. HF's default is 50.</summary>
    public int TopK { get; init; } = 50;

    /// <summary>Keep the smallest set of most likely tokens whose probability reaches p (1 = off). Only used when
    /// sampling.</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>HF's repetition penalty (1 = off): logits of tokens already in the sequence are divided by it
    /// when positive and multiplied by it when negative.</summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>Tokens that end a sequence (eos_token_id, may be several); the stop token itself is kept.</summary>
    public IReadOnlyList<long> StopTokenIds { get; init; } = [];

    /// <summary>Fills a finished row while others continue (pad_token_id); defaults to the first stop token, else 0.</summary>
    public long? PadTokenId { get; init; }

    /// <summary>Seed of the sampling generator: the same seed gives the same tokens.</summary>
    public ulong Seed { get; init; } = 0;

    /// <summary>Checks the values and names the first wrong one.</summary>
    public void Validate()
    {
        if (MaxNewTokens < 0) throw new ArgumentException($"GenerationConfig: MaxNewTokens must be ≥ 0, got {MaxNewTokens}");
        if (!(Temperature > 0) || double.IsInfinity(Temperature)) throw new ArgumentException($"GenerationConfig: Temperature must be a positive finite number, got {Temperature}");
        if (TopK < 0) throw new ArgumentException($"GenerationConfig: TopK must be ≥ 0 (0 = off), got {TopK}");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"GenerationConfig: TopP must be in (0, 1], got {TopP}");
        if (!(RepetitionPenalty > 0) || double.IsInfinity(RepetitionPenalty)) throw new ArgumentException($"GenerationConfig: RepetitionPenalty must be a positive finite number, got {RepetitionPenalty}");
    }

    /// <summary>The processors this config asks for, in HF's order.</summary>
    public IReadOnlyList<ILogitsProcessor> Processors()
    {
        var list = new List<ILogitsProcessor>();
        if (RepetitionPenalty != 1.0) list.Add(new RepetitionPenaltyProcessor(RepetitionPenalty));
        if (DoSample)
        {
            if (Temperature != 1.0) list.Add(new TemperatureProcessor(Temperature));
            if (TopK != 0) list.Add(new TopKProcessor(TopK));
            if (TopP < 1.0) list.Add(new TopPProcessor(TopP));
        }
        return list;
    }
}
