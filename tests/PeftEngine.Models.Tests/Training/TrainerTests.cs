using PeftEngine.IO.Datasets;
using PeftEngine.Models.Training;

namespace PeftEngine.Tests.Training;

/// <summary>The training loop's arithmetic: accumulation, schedule, evaluation and progress.</summary>
public class TrainerTests
{
    [Fact]
    public void Accumulating2x2_EqualsOneBatchOf4()
    {
        var examples = TrainerResumeTests.Examples(8, seed: 2, minLength: 9, maxLength: 9);   // equal lengths: mean of means = mean
        var options = new TrainerOptions { MaxSteps = 3, LearningRate = 1e-2, Schedule = LrScheduleKind.Constant, MaxGradNorm = null };
        float[] Train(int batch, int accumulate)
        {
            using var model = TinyGpt2.Create(new Generator(4));
            using var trainer = new Trainer(model, options with { GradientAccumulationSteps = accumulate },
                new BatchLoader(examples, batch, 0, seed: null));
            trainer.Train();
            return model.NamedParameters().SelectMany(np => np.Parameter.Data.ToFloatArray()).ToArray();
        }
        var a = Train(4, 1);
        var b = Train(2, 2);
        Assert.Equal(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 2e-5 + 1e-4 * Math.Abs(a[i]), $"element {i}: {a[i]} vs {b[i]}");
    }

    [Fact]
    public void WarmupThenLinearDecay_SetsEachStepsRate()
    {
        using var model = TinyGpt2.Create(new Generator(4));
        var options = new TrainerOptions { MaxSteps = 6, LearningRate = 0.1, WarmupSteps = 2, Schedule = LrScheduleKind.Linear };
        using var trainer = new Trainer(model, options, new BatchLoader(TrainerResumeTests.Examples(), 4, 0, seed: 1));
        trainer.Train();
        // HF: step s uses lr · s/warmup during warmup, then lr · (total − s)/(total − warmup).
        double[] expected = [0, 0.05, 0.1, 0.075, 0.05, 0.025];
        var actual = trainer.History.Select(h => h.LearningRate).ToArray();
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 12);
    }

    [Fact]
    public void LearnsARepeatingSequence_AndReportsProgressAndEvaluations()
    {
        // Sequences following i -> i+1 (mod 38) are perfectly predictable after the first token.
        var rng = new Random(3);
        var examples = Enumerable.Range(0, 32).Select(_ =>
        {
            int start = rng.Next(38);
            return TrainingExample.LanguageModelling(Enumerable.Range(0, 10).Select(k => 2 + (start + k) % 38).ToArray());
        }).ToList();
        using var model = TinyGpt2.Create(new Generator(8));
        var options = new TrainerOptions { MaxSteps = 60, LearningRate = 1e-2, WarmupSteps = 5, EvalEvery = 30, LogEvery = 10 };
        using var trainer = new Trainer(model, options, new BatchLoader(examples, 8, 0, seed: 2), new BatchLoader(examples, 8, 0, seed: null));
        var progress = new List<TrainingProgress>();
        trainer.OnProgress = progress.Add;
        var before = trainer.Evaluate();
        trainer.Train();

        Assert.Equal([1, 10, 20, 30, 40, 50, 60], progress.Select(p => p.Step));
        Assert.All(progress, p => Assert.True(p.TokensPerSecond > 0 && p.MaxSteps == 60));
        Assert.Equal(TimeSpan.Zero, progress[^1].Eta);
        Assert.Equal([0, 30, 60], trainer.Evaluations.Select(e => e.Step));
        var after = trainer.Evaluations[^1];
        Assert.Equal(before.Tokens, after.Tokens);
        Assert.True(after.Loss < 0.5 * before.Loss, $"held-out loss {before.Loss} -> {after.Loss}");
        Assert.True(after.Perplexity < before.Perplexity);
        Assert.True(model.IsTraining);
    }

    [Fact]
    public void Evaluator_WeightsBatchesByScoredTokens()
    {
        var examples = TrainerResumeTests.Examples(6, seed: 9);
        using var model = TinyGpt2.Create(new Generator(4));
        var loader = new BatchLoader(examples, 4, 0, seed: null);   // batches of 4 and 2
        var result = Evaluator.Evaluate(model, loader.OnePass());

        double sum = 0;
        long n = 0;
        using (GradMode.Disable())
            foreach (var e in examples)
            {
                using var batch = Batching.Collate([e], 0);
                using var loss = model.Loss(batch.InputIds, batch.Labels);
                sum += loss.Item() * (e.Length - 1);
                n += e.Length - 1;
            }
        Assert.Equal(n, result.Tokens);
        Assert.Equal(sum / n, result.Loss, 5);
    }

    [Fact]
    public void BatchLoader_RestoredPositionYieldsTheSameBatches()
    {
        var examples = TrainerResumeTests.Examples(10);
        var a = new BatchLoader(examples, 3, 0, seed: 4);   // 3 batches per epoch, one example dropped
        var seen = Enumerable.Range(0, 7).Select(_ => a.NextExamples()).ToList();
        Assert.Equal(new DataPosition(2, 1), a.Position);
        Assert.NotEqual(seen[0], seen[3]);   // the second epoch is reshuffled

        var b = new BatchLoader(examples, 3, 0, seed: 4) { Position = new DataPosition(1, 1) };
        for (int i = 4; i < 7; i++) Assert.Equal(seen[i], b.NextExamples());
        Assert.Throws<ArgumentException>(() => new BatchLoader(examples, 11, 0, seed: null));
    }
}
