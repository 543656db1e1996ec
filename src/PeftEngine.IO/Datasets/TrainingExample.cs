namespace PeftEngine.IO.Datasets;

/// <summary>One tokenised training sequence: the input ids and, position by position, the label to predict
/// there (<see cref="IgnoreIndex"/> where no loss is taken, e.g. prompt tokens).</summary>
/// <remarks>HF: a dataset row with <c>input_ids</c> and <c>labels</c>; the causal shift happens in the loss.</remarks>
public sealed record TrainingExample(int[] InputIds, int[] Labels)
{
    /// <summary>The label value the loss ignores (PyTorch CrossEntropyLoss ignore_index).</summary>
    public const int IgnoreIndex = -100;

    /// <summary>An example where every token is a label (language modelling).</summary>
    public static TrainingExample LanguageModelling(int[] ids) => new(ids, (int[])ids.Clone());

    /// <summary>Prompt tokens masked with <see cref="IgnoreIndex"/>, completion tokens as labels, cut to
    /// <paramref name="maxLength"/> tokens when given.</summary>
    public static TrainingExample PromptCompletion(int[] prompt, int[] completion, int? maxLength = null)
    {
        var ids = prompt.Concat(completion).ToArray();
        var labels = Enumerable.Repeat(IgnoreIndex, prompt.Length).Concat(completion).ToArray();
        var ex = new TrainingExample(ids, labels);
        return maxLength is { } m ? ex.Truncate(m) : ex;
    }

    /// <summary>Number of tokens.</summary>
    public int Length => InputIds.Length;

    /// <summary>The first <paramref name="maxLength"/> tokens.</summary>
    public TrainingExample Truncate(int maxLength) =>
        Length <= maxLength ? this : new(InputIds[..maxLength], Labels[..maxLength]);
}
