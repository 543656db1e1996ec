using PeftEngine.IO.Datasets;

namespace PeftEngine.Models.Training;

/// <summary>Held-out loss and perplexity of a causal language model.</summary>
/// <remarks>HF: <c>Trainer.evaluate()</c> for a causal LM (eval_loss; perplexity = exp(eval_loss) as in
/// run_clm.py), except that batch losses are weighted by their number of scored tokens so the result does not
/// depend on the batching.</remarks>
public static class Evaluator
{
    /// <summary>
    /// Runs the model in eval mode without gradients over <paramref name="batches"/> (at most
    /// <paramref name="maxBatches"/>, 0 = all) and returns the token-weighted mean loss. The model's train/eval
    /// mode is restored afterwards.
    /// </summary>
    public static EvalResult Evaluate(ICausalLanguageModel model, IEnumerable<Batch> batches, int step = 0, int maxBatches = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batches);
        bool wasTraining = model.Module.IsTraining;
        model.Module.Eval();
        double sum = 0;
        long tokens = 0;
        int seen = 0;
        try
        {
            using var noGrad = GradMode.Disable();
            var device = ModelDevice.Of(model.Module);
            foreach (var batch in batches)
            {
                using (batch)
                using (var scope = TensorScope.Begin())
                {
                    long scored = ScoredTokens(batch.Labels);
                    if (scored > 0)
                    {
                        using var onDevice = batch.To(device);
                        var loss = model.Loss(onDevice.InputIds, onDevice.Labels, onDevice.AttentionMask);
                        sum += loss.Item() * scored;
                        tokens += scored;
                    }
                }
                if (maxBatches > 0 && ++seen >= maxBatches) break;
            }
        }
        finally
        {
            model.Module.Train(wasTraining);
        }
        if (tokens == 0) throw new ArgumentException("Evaluator: the held-out batches have no positions to score (all labels are -100 or sequences are shorter than 2).", nameof(batches));
        return new EvalResult(step, sum / tokens, tokens);
    }

    /// <summary>Positions the causal loss scores: labels 1 .. T−1 that are not -100.</summary>
    internal static long ScoredTokens(Tensor labels)
    {
        long[] values = labels.ToArray<long>();
        int t = labels.Shape[1];
        long n = 0;
        for (int i = 0; i < values.Length; i++)
            if (i % t != 0 && values[i] != TrainingExample.IgnoreIndex) n++;
        return n;
    }
}
