using PeftEngine.IO.Datasets;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models.Generation;

namespace PeftEngine.Models.Training;

/// <summary>One answer scored by <see cref="ExactMatch"/>.</summary>
/// <param name="Record">The question.</param>
/// <param name="Predicted">The model's answer (first line of the greedy continuation, trimmed).</param>
/// <param name="Correct">Whether it equals the expected output exactly.</param>
public sealed record ExactMatchSample(InstructionRecord Record, string Predicted, bool Correct);

/// <summary>The exact-match accuracy of a set of answers.</summary>
/// <param name="Samples">Every scored answer, in record order.</param>
public sealed record ExactMatchResult(IReadOnlyList<ExactMatchSample> Samples)
{
    /// <summary>Answers equal to the expected output.</summary>
    public int Correct => Samples.Count(s => s.Correct);

    /// <summary>Correct / all (0 for no records).</summary>
    public double Accuracy => Samples.Count == 0 ? 0 : (double)Correct / Samples.Count;

    /// <inheritdoc/>
    public override string ToString() => $"exact match {Correct}/{Samples.Count} = {Accuracy:P1}";
}

/// <summary>
/// The task metric of instruction datasets with short answers (such as tiny-llama's passage QA): the model
/// continues each prompt greedily until the end-of-text token, a newline or a token limit, and the first line of
/// the continuation, trimmed, must equal the record's output exactly (case-sensitive).
/// </summary>
/// <remarks>SQuAD-style exact match without answer normalisation; HF: <c>evaluate.load("exact_match")</c> over
/// <c>generate</c> outputs.</remarks>
public static class ExactMatch
{
    /// <summary>Scores <paramref name="records"/>. <paramref name="prompt"/> renders a record into the text before
    /// the answer (default: the Alpaca prompt of <see cref="SupervisedFormatter.DefaultInstructionPrompt"/>, the
    /// layout fine-tuning trains on).</summary>
    public static ExactMatchResult Evaluate(ICausalLanguageModel model, ITokenizer tokenizer, IEnumerable<InstructionRecord> records,
        Func<InstructionRecord, string>? prompt = null, int maxNewTokens = 16)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(records);
        prompt ??= SupervisedFormatter.DefaultInstructionPrompt;
        var stops = new List<long>();
        if (tokenizer.EosTokenId is { } eos) stops.Add(eos);
        var config = new GenerationConfig { MaxNewTokens = maxNewTokens, StopTokenIds = stops, PadTokenId = tokenizer.PadTokenId };
        bool wasTraining = model.Module.IsTraining;
        model.Module.Eval();
        var samples = new List<ExactMatchSample>();
        try
        {
            foreach (var r in records)
            {
                long[] ids = tokenizer.Encode(prompt(r), addSpecialTokens: false).Select(i => (long)i).ToArray();
                using var input = Tensor.FromArray(ids, 1, ids.Length);
                var result = TextGeneration.Generate(model, input, config);
                var answerIds = result.Sequences[0].Skip(ids.Length).Select(i => (int)i).ToList();
                string text = tokenizer.Decode(answerIds, skipSpecialTokens: true);
                int newline = text.IndexOf('\n');
                string answer = (newline >= 0 ? text[..newline] : text).Trim();
                samples.Add(new ExactMatchSample(r, answer, answer == r.Output.Trim()));
            }
        }
        finally
        {
            model.Module.Train(wasTraining);
        }
        return new ExactMatchResult(samples);
    }
}
