using PeftEngine.Models;
using PeftEngine.Models.Generation;

namespace PeftEngine.Tests;

/// <summary>Explicit position ids and left-padded batch generation.</summary>
public class LeftPaddingTests
{
    private static IPositionedCausalLanguageModel Load(string name) =>
        name == "gpt2" ? Gpt2Model.FromPretrained(Gpt2Fixture.Directory) : LlamaModel.FromPretrained(LlamaFixture.Directory(name));

    public static TheoryData<string> Models => new("gpt2", "llama", "qwen2", "mistral");

    [Theory]
    [MemberData(nameof(Models))]
    public void PositionIdsCountingFromZeroGiveTheDefaultLogitsAndShiftedOnesDoNot(string name)
    {
        var model = Load(name);
        using var _ = model.Module;
        using var ids = Tensor.FromArray(new long[] { 3, 1, 4, 1, 5, 9, 2, 6, 5, 3 }, 2, 5);
        using var zeroBased = Tensor.FromArray(new long[] { 0, 1, 2, 3, 4, 0, 1, 2, 3, 4 }, 2, 5);
        using var gapped = Tensor.FromArray(new long[] { 0, 1, 2, 3, 4, 0, 1, 2, 5, 6 }, 2, 5);
        using var plain = model.Forward(ids);
        using var explicitPositions = model.Forward(ids, null, null, zeroBased);
        TestData.AssertClose(plain.ToDoubleArray(), explicitPositions.ToDoubleArray(), atol: 1e-6, rtol: 1e-6, what: name);
        using var moved = model.Forward(ids, null, null, gapped);
        var p = plain.ToDoubleArray();
        var m = moved.ToDoubleArray();
        int half = p.Length / 2;
        Assert.Equal(p[..half], m[..half]);                                  // row 0 unchanged
        Assert.True(p[half..].Zip(m[half..]).Max(x => Math.Abs(x.First - x.Second)) > 1e-3, "a gap in the positions must change row 1");
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen2")]
    [InlineData("mistral")]
    public void RotaryScoresDependOnlyOnDistanceSoAUniformShiftChangesNothing(string name)
    {
        using var model = LlamaModel.FromPretrained(LlamaFixture.Directory(name));
        using var ids = Tensor.FromArray(new long[] { 3, 1, 4, 1, 5 }, 1, 5);
        using var shifted = Tensor.FromArray(new long[] { 11, 12, 13, 14, 15 }, 1, 5);
        using var plain = model.Forward(ids);
        using var moved = model.Forward(ids, null, null, shifted);
        TestData.AssertClose(plain.ToDoubleArray(), moved.ToDoubleArray(), atol: 1e-5, rtol: 1e-5, what: name);
    }

    [Fact]
    public void GradientsFlowThroughTheGatheredRotaryPath()
    {
        using var expected = LlamaFixture.OpenExpected("llama");
        using var model = LlamaModel.FromPretrained(LlamaFixture.Directory("llama"));
        using var ids = expected.Load("ids");
        using var labels = expected.Load("labels");
        using var positions = Tensor.FromArray(Enumerable.Range(0, 14).Select(i => (long)(i % 7)).ToArray(), 2, 7);
        using (var logits = model.Forward(ids, null, null, positions))
        using (var loss = CausalLmLoss.Compute(logits, labels, "test"))
            loss.Backward();
        LlamaParityTests.AssertGradientsMatch(model, expected, "llama", atolOfScale: 2e-5, rtol: 1e-5);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void ALeftPaddedBatchGeneratesWhatEachPromptGeneratesAlone(string name)
    {
        var model = Load(name);
        using var _ = model.Module;
        long[][] prompts = [[7, 3, 1, 4, 1, 5], [9, 2, 6], [5, 3, 5, 8]];
        int t = prompts.Max(p => p.Length);
        var ids = new long[prompts.Length * t];
        var mask = new long[prompts.Length * t];
        for (int r = 0; r < prompts.Length; r++)
            for (int j = 0; j < prompts[r].Length; j++)
            {
                ids[r * t + t - prompts[r].Length + j] = prompts[r][j];
                mask[r * t + t - prompts[r].Length + j] = 1;
            }
        var config = new GenerationConfig { MaxNewTokens = 6 };
        using var batchIds = Tensor.FromArray(ids, prompts.Length, t);
        using var batchMask = Tensor.FromArray(mask, prompts.Length, t);
        var together = TextGeneration.Generate(model, batchIds, config, batchMask);
        for (int r = 0; r < prompts.Length; r++)
        {
            using var single = Tensor.FromArray(prompts[r], 1, prompts[r].Length);
            var alone = TextGeneration.Generate(model, single, config);
            Assert.Equal(alone.Sequences[0][prompts[r].Length..], together.Sequences[r][t..]);
        }
    }
}
