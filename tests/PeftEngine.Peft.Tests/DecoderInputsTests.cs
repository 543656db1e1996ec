using PeftEngine.Models;
using PeftEngine.Nn;

namespace PeftEngine.Tests;

/// <summary>The method-agnostic seams of the decoders that prompt learning uses: input embeddings and an attention prefix.</summary>
public class DecoderInputsTests
{
    private static IPromptableCausalLanguageModel Create(string arch) =>
        arch == "gpt2" ? TestGpt2.Create(new Generator(61)) : TestLlama.Create(new Generator(61));

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void InputEmbeddingsOfTheIdsGiveTheLogitsOfTheIds(string arch)
    {
        var model = Create(arch);
        using var _ = GradMode.Disable();
        using var ids = TestLlama.Input();
        using var mask = Tensor.FromArray(new long[] { 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0 }, 3, 5);
        using var fromIds = model.Forward(ids, mask);
        using var embeds = model.EmbedTokens(ids);                                          // (B, T, C)
        Assert.Equal(new Shape(3, 5, model.Geometry.HiddenSize), embeds.Shape);
        using var fromEmbeds = model.Forward(new DecoderInputs { InputsEmbeds = embeds, AttentionMask = mask });
        TestData.AssertClose(fromIds.ToDoubleArray(), fromEmbeds.ToDoubleArray(), 0, 0, arch);
        Assert.Throws<ArgumentException>(() => model.Forward(new DecoderInputs { InputIds = ids, InputsEmbeds = embeds }));
        Assert.Throws<ArgumentException>(() => model.Forward(new DecoderInputs()));
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void APrefixIsCheckedAgainstTheModelAndNeedsAnEmptyCache(string arch)
    {
        var model = Create(arch);
        var g = model.Geometry;
        using var _ = GradMode.Disable();
        using var ids = TestLlama.Input();                                                   // (3, 5)
        var good = Enumerable.Range(0, g.NumLayers).Select(_ => (Tensor.Zeros(new Shape(3, g.NumKeyValueHeads, 2, g.HeadDim)),
            Tensor.Zeros(new Shape(3, g.NumKeyValueHeads, 2, g.HeadDim)))).ToList();
        var prefix = new AttentionPrefix(good);
        using (var logits = model.Forward(new DecoderInputs { InputIds = ids, Prefix = prefix })) Assert.Equal(new Shape(3, 5, model.VocabSize), logits.Shape);
        var wrongHeads = Enumerable.Range(0, g.NumLayers).Select(_ => (Tensor.Zeros(new Shape(3, g.NumAttentionHeads * 2, 2, g.HeadDim)),
            Tensor.Zeros(new Shape(3, g.NumAttentionHeads * 2, 2, g.HeadDim)))).ToList();
        var e = Assert.Throws<ArgumentException>(() => model.Forward(new DecoderInputs { InputIds = ids, Prefix = new AttentionPrefix(wrongHeads) }));
        Assert.Contains("attention prefix", e.Message);
        using var cache = model.CreateCache(3, 16);
        using (model.Forward(ids, null, cache)) { }
        Assert.Throws<ArgumentException>(() => model.Forward(new DecoderInputs { InputIds = ids, Cache = cache, Prefix = prefix }));
        // a prefix written into an empty cache is where the next tokens' positions start
        cache.Reset();
        using (model.Forward(new DecoderInputs { InputIds = ids, Cache = cache, Prefix = prefix })) Assert.Equal(2 + 5, cache.Length);
        foreach (var (k, v) in good.Concat(wrongHeads)) { k.Dispose(); v.Dispose(); }
    }
}
