using PeftEngine.Models;
using PeftEngine.Models.Generation;

namespace PeftEngine.Tests;

/// <summary>The cached generation loop: greedy equals the argmax of full forwards, streaming, stop tokens,
/// batches, seeded sampling.</summary>
public class TextGenerationTests
{
    private static Tensor Prompt(params long[][] rows) =>
        Tensor.FromArray(rows.SelectMany(r => r).ToArray(), rows.Length, rows[0].Length);

    /// <summary>Greedy decoding without a cache: one full forward per new token.</summary>
    private static long[][] GreedyWithoutCache(ICausalLanguageModel model, long[][] prompts, int steps)
    {
        using var _ = GradMode.Disable();
        var seqs = prompts.Select(p => p.ToList()).ToArray();
        for (int s = 0; s < steps; s++)
        {
            using var ids = Prompt(seqs.Select(q => q.ToArray()).ToArray());
            using var logits = model.Forward(ids);
            int t = ids.Shape[1], v = model.VocabSize;
            var l = logits.ToDoubleArray();
            for (int r = 0; r < seqs.Length; r++)
                seqs[r].Add(Sampling.ArgMax(l.AsSpan(((r * t) + t - 1) * v, v)));
        }
        return seqs.Select(q => q.ToArray()).ToArray();
    }

    public static TheoryData<string> Models => new("gpt2", "llama", "qwen2", "mistral");

    private static ICausalLanguageModel Load(string name) =>
        name == "gpt2" ? Gpt2Model.FromPretrained(Gpt2Fixture.Directory) : LlamaModel.FromPretrained(LlamaFixture.Directory(name));

    [Theory]
    [MemberData(nameof(Models))]
    public void GreedyGenerationEqualsTheArgmaxOfFullForwards(string name)
    {
        var model = Load(name);
        using var _ = model.Module;
        long[][] prompts = [[3, 1, 4, 1], [5, 9, 2, 6]];
        var want = GreedyWithoutCache(model, prompts, 8);
        using var ids = Prompt(prompts);
        var streamed = new List<IReadOnlyList<long>>();
        var result = TextGeneration.Generate(model, ids, new GenerationConfig { MaxNewTokens = 8 },
            onToken: (step, tokens) => { Assert.Equal(streamed.Count, step); streamed.Add(tokens.ToArray()); });
        Assert.Equal(want, result.Sequences);
        Assert.Equal([8, 8], result.NewTokens);
        Assert.Equal(8, streamed.Count);
        for (int s = 0; s < 8; s++) Assert.Equal([want[0][4 + s], want[1][4 + s]], streamed[s]);
    }

    [Fact]
    public void Gpt2GreedyMatchesTheModelsOwnCachelessGreedy()
    {
        using var model = Gpt2Model.FromPretrained(Gpt2Fixture.Directory);
        using var ids = Prompt([7, 8, 9]);
        using var want = model.GenerateGreedy(ids, 6);
        var result = TextGeneration.Generate(model, ids, new GenerationConfig { MaxNewTokens = 6 });
        Assert.Equal(want.ToArray<long>(), result.Sequences[0]);
    }

    [Fact]
    public void AStopTokenEndsItsRowWhichIsPaddedWhileOthersContinue()
    {
        using var model = LlamaModel.FromPretrained(LlamaFixture.Directory("llama"));
        long[][] prompts = [[3, 1, 4, 1], [5, 9, 2, 6]];
        var free = GreedyWithoutCache(model, prompts, 6);
        long stopToken = free[0][6];                                  // row 0's third new token
        int row1Stop = Array.IndexOf(free[1], stopToken, 4);          // where row 1 would meet it, if at all
        using var ids = Prompt(prompts);
        var streamed = new List<long[]>();
        var result = TextGeneration.Generate(model, ids,
            new GenerationConfig { MaxNewTokens = 6, StopTokenIds = [stopToken], PadTokenId = 0 },
            onToken: (_, tokens) => streamed.Add(tokens.ToArray()));
        Assert.Equal(free[0][..7], result.Sequences[0]);
        Assert.True(result.Stopped[0]);
        Assert.Equal(3, result.NewTokens[0]);
        if (row1Stop < 0) Assert.Equal(free[1], result.Sequences[1]);
        else Assert.Equal(free[1][..(row1Stop + 1)], result.Sequences[1]);
        if (streamed.Count > 3) Assert.Equal(0, streamed[3][0]);     // the finished row is padded
    }

    [Fact]
    public void ABatchOfEqualLengthPromptsGeneratesWhatEachPromptDoesAlone()
    {
        using var model = LlamaModel.FromPretrained(LlamaFixture.Directory("mistral"));
        long[][] prompts = [[3, 1, 4, 1, 5], [9, 2, 6, 5, 3], [5, 8, 9, 7, 9]];
        var config = new GenerationConfig { MaxNewTokens = 7, RepetitionPenalty = 1.5 };
        using var batch = Prompt(prompts);
        var together = TextGeneration.Generate(model, batch, config);
        for (int r = 0; r < prompts.Length; r++)
        {
            using var single = Prompt(prompts[r]);
            var alone = TextGeneration.Generate(model, single, config);
            Assert.Equal(alone.Sequences[0], together.Sequences[r]);
        }
    }

    [Fact]
    public void SeededSamplingIsReproducibleAndTheSeedMatters()
    {
        using var model = LlamaModel.FromPretrained(LlamaFixture.Directory("qwen2"));
        using var ids = Prompt([3, 1, 4], [1, 5, 9]);
        var config = new GenerationConfig { MaxNewTokens = 12, DoSample = true, Temperature = 1.5, TopK = 20, TopP = 0.95, Seed = 42 };
        var a = TextGeneration.Generate(model, ids, config);
        var b = TextGeneration.Generate(model, ids, config);
        Assert.Equal(a.Sequences, b.Sequences);
        var others = Enumerable.Range(1, 3).Select(s => TextGeneration.Generate(model, ids, config with { Seed = (ulong)(42 + s) }).Sequences);
        Assert.Contains(others, o => !o.Zip(a.Sequences).All(p => p.First.SequenceEqual(p.Second)));
        var greedy = TextGeneration.Generate(model, ids, config with { DoSample = false });
        Assert.False(greedy.Sequences.Zip(a.Sequences).All(p => p.First.SequenceEqual(p.Second)), "sampling at temperature 1.5 should leave the greedy path");
    }

    [Fact]
    public void TopKOfOneSamplesTheGreedyPath()
    {
        using var model = LlamaModel.FromPretrained(LlamaFixture.Directory("llama"));
        using var ids = Prompt([3, 1, 4], [1, 5, 9]);
        var greedy = TextGeneration.Generate(model, ids, new GenerationConfig { MaxNewTokens = 6 });
        var sampled = TextGeneration.Generate(model, ids, new GenerationConfig { MaxNewTokens = 6, DoSample = true, TopK = 1, Seed = 3 });
        Assert.Equal(greedy.Sequences, sampled.Sequences);
    }

    [Fact]
    public void GenerationStopsAtTheModelsLastPosition()
    {
        using var model = Gpt2Model.FromPretrained(Gpt2Fixture.Directory);   // n_positions 32
        using var ids = Prompt(Enumerable.Range(0, 30).Select(i => (long)(i % 50)).ToArray());
        var result = TextGeneration.Generate(model, ids, new GenerationConfig { MaxNewTokens = 10 });
        Assert.Equal(32, result.Sequences[0].Length);
        Assert.False(result.Stopped[0]);
    }
}
