using PeftEngine.Models.Generation;

namespace PeftEngine.Tests;

/// <summary>Each logits processor and the token choice against values worked out by hand.</summary>
public class LogitsProcessorTests
{
    private static double[] Run(ILogitsProcessor p, double[] scores, params long[] sequence)
    {
        var s = (double[])scores.Clone();
        p.Process(sequence, s);
        return s;
    }

    [Fact]
    public void RepetitionPenaltyDividesPositiveAndMultipliesNegativeScoresOfSeenTokensOnce()
    {
        // token 0 (2 -> 2/2), token 1 seen twice (-1 -> -1*2, once), tokens 2 and 3 unseen
        var got = Run(new RepetitionPenaltyProcessor(2.0), [2, -1, 0.5, 3], 0, 1, 1);
        Assert.Equal([1, -2, 0.5, 3], got);
    }

    [Fact]
    public void RepetitionPenaltyBelowOneEncouragesRepeats()
    {
        var got = Run(new RepetitionPenaltyProcessor(0.5), [2, -1, 0.5], 0, 1);
        Assert.Equal([4, -0.5, 0.5], got);
    }

    [Fact]
    public void TemperatureDividesEveryScore()
    {
        Assert.Equal([4, -2, 0], Run(new TemperatureProcessor(0.5), [2, -1, 0]));
        Assert.Equal([1, -0.5, 0], Run(new TemperatureProcessor(2), [2, -1, 0]));
    }

    [Fact]
    public void TopKKeepsTheKLargestAndTheirTies()
    {
        double ninf = double.NegativeInfinity;
        Assert.Equal([ninf, 4, ninf, 3], Run(new TopKProcessor(2), [1, 4, 2, 3]));
        // the 2nd largest is 3, tied: both 3s stay (HF removes only scores strictly below the k-th)
        Assert.Equal([ninf, 3, ninf, 3], Run(new TopKProcessor(2), [1, 3, 2, 3]));
        // k beyond the vocabulary keeps everything
        Assert.Equal([1, 3, 2], Run(new TopKProcessor(10), [1, 3, 2]));
    }

    [Fact]
    public void TopPRemovesTheUnlikelyTailWhoseMassStaysAtOrBelowOneMinusP()
    {
        double ninf = double.NegativeInfinity;
        // probabilities 0.1, 0.2, 0.3, 0.4 (already ascending); cumulative 0.1, 0.3, 0.6, 1.0
        double[] scores = [Math.Log(0.1), Math.Log(0.2), Math.Log(0.3), Math.Log(0.4)];
        // p = 0.65: remove cumulative ≤ 0.35 -> tokens 0 and 1
        Assert.Equal([ninf, ninf, scores[2], scores[3]], Run(new TopPProcessor(0.65), scores));
        // p = 0.8: remove cumulative ≤ 0.2 -> token 0 only
        Assert.Equal([ninf, scores[1], scores[2], scores[3]], Run(new TopPProcessor(0.8), scores));
        // p tiny: everything but the most likely token (min_tokens_to_keep = 1)
        Assert.Equal([ninf, ninf, ninf, scores[3]], Run(new TopPProcessor(0.01), scores));
        // ... or the two most likely with min_tokens_to_keep = 2
        Assert.Equal([ninf, ninf, scores[2], scores[3]], Run(new TopPProcessor(0.01, minTokensToKeep: 2), scores));
        // the order of the tokens does not matter: shuffled 0.3, 0.1, 0.4, 0.2 with p = 0.65
        double[] shuffled = [Math.Log(0.3), Math.Log(0.1), Math.Log(0.4), Math.Log(0.2)];
        Assert.Equal([shuffled[0], ninf, shuffled[2], ninf], Run(new TopPProcessor(0.65), shuffled));
    }

    [Fact]
    public void ArgMaxTakesTheFirstOfTiedMaxima()
    {
        Assert.Equal(1, Sampling.ArgMax([0, 5, 5, -1]));
        Assert.Equal(3, Sampling.ArgMax([double.NegativeInfinity, 1, 2, 7]));
    }

    [Fact]
    public void DrawInvertsTheCumulativeDistribution()
    {
        // p = (0.25, 0, 0.75): cumulative 0.25 | 1.0
        double[] scores = [Math.Log(1), double.NegativeInfinity, Math.Log(3)];
        Assert.Equal(0, Sampling.Draw(scores, 0.0));
        Assert.Equal(0, Sampling.Draw(scores, 0.24));
        Assert.Equal(2, Sampling.Draw(scores, 0.26));
        Assert.Equal(2, Sampling.Draw(scores, 0.999999));
        Assert.Throws<InvalidOperationException>(() => Sampling.Draw([double.NegativeInfinity, double.NegativeInfinity], 0.5));
    }

    [Fact]
    public void TheConfigListsProcessorsInHfOrderAndOnlySamplingUsesTheWarpers()
    {
        var greedy = new GenerationConfig { RepetitionPenalty = 1.3, Temperature = 0.7, TopK = 5, TopP = 0.9 };
        Assert.Equal([typeof(RepetitionPenaltyProcessor)], greedy.Processors().Select(p => p.GetType()));
        var sampled = greedy with { DoSample = true };
        Assert.Equal([typeof(RepetitionPenaltyProcessor), typeof(TemperatureProcessor), typeof(TopKProcessor), typeof(TopPProcessor)],
            sampled.Processors().Select(p => p.GetType()));
        Assert.Throws<ArgumentException>(() => new GenerationConfig { Temperature = 0 }.Validate());
        Assert.Throws<ArgumentException>(() => new GenerationConfig { TopP = 1.5 }.Validate());
    }
}
