using PeftEngine.IO.Datasets;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;
using PeftEngine.Models.Generation;

namespace PeftEngine.Cli.Train;

/// <summary>One held-out example with the model's greedy answer.</summary>
public sealed record AnswerSample(string Instruction, string Input, string Expected, string Predicted)
{
    /// <summary>True when the answer equals the expected output exactly (after trimming spaces).</summary>
    public bool Correct => Predicted == Expected.Trim();
}

/// <summary>The task metric of an instruction dataset: exact match of greedy answers.</summary>
public sealed record AnswerScore(int Correct, int Total, IReadOnlyList<AnswerSample> Samples)
{
    /// <summary>Correct / Total.</summary>
    public double ExactMatch => Total == 0 ? 0 : (double)Correct / Total;
}

/// <summary>
/// Scores a causal LM on instruction records by greedy decoding: the answer is the generated text up to the end
/// token or the first newline, compared with the record's output exactly (spaces at the ends trimmed).
/// </summary>
public static class AnswerEvaluator
{
    /// <summary>Answers up to <paramref name="count"/> records (in file order) and keeps the first
    /// <paramref name="keepSamples"/> as samples.</summary>
    public static AnswerScore Score(ICausalLanguageModel model, ITokenizer tokenizer, IReadOnlyList<InstructionRecord> records,
        int count, int keepSamples, int maxNewTokens = 12)
    {
        var stops = new List<long>();
        if (tokenizer.EosTokenId is { } eos) stops.Add(eos);
        var config = new GenerationConfig { MaxNewTokens = maxNewTokens, StopTokenIds = stops };
        var samples = new List<AnswerSample>();
        int correct = 0, total = Math.Min(count, records.Count);
        bool wasTraining = model.Module.IsTraining;
        model.Module.Eval();
        try
        {
            for (int i = 0; i < total; i++)
            {
                var r = records[i];
                var prompt = tokenizer.Encode(SupervisedFormatter.DefaultInstructionPrompt(r), addSpecialTokens: false);
                using var ids = Tensor.FromArray(prompt.Select(t => (long)t).ToArray(), 1, prompt.Length);
                var result = TextGeneration.Generate(model, ids, config);
                var generated = result.Sequences[0].Skip(prompt.Length).Where(t => !stops.Contains(t)).Select(t => (int)t).ToArray();
                string text = tokenizer.Decode(generated, skipSpecialTokens: true);
                int newline = text.IndexOf('\n');
                string answer = (newline >= 0 ? text[..newline] : text).Trim();
                var sample = new AnswerSample(r.Instruction, r.Input, r.Output, answer);
                if (sample.Correct) correct++;
                if (samples.Count < keepSamples) samples.Add(sample);
            }
        }
        finally { model.Module.Train(wasTraining); }
        return new AnswerScore(correct, total, samples);
    }
}
