using PeftEngine.Models;

namespace PeftEngine.Tests;

/// <summary>Incremental decoding through the key/value cache gives the logits of the full forward, for GPT-2
/// and the LLaMA family (grouped-query attention, sliding window, padding).</summary>
public class KvCacheTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Gpt2CachedDecodingEqualsTheFullForward(int prefill)
    {
        using var expected = Gpt2Fixture.OpenExpected();
        using var model = Gpt2Model.FromPretrained(Gpt2Fixture.Directory);
        using var ids = expected.Load("ids");
        AssertCachedDecodingMatches(model, ids, null, prefill, "gpt2");
    }

    [Theory]
    [InlineData("llama", 1)]
    [InlineData("llama", 4)]
    [InlineData("qwen2", 2)]
    [InlineData("mistral", 1)]
    [InlineData("mistral", 5)]
    public void LlamaCachedDecodingEqualsTheFullForward(string name, int prefill)
    {
        using var expected = LlamaFixture.OpenExpected(name);
        using var model = LlamaModel.FromPretrained(LlamaFixture.Directory(name));
        using var ids = expected.Load("ids");
        AssertCachedDecodingMatches(model, ids, null, prefill, name);
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("mistral")]
    public void LeftPaddedCachedDecodingEqualsTheFullForwardAtRealPositions(string name)
    {
        using var expected = LlamaFixture.OpenExpected(name);
        using var model = LlamaModel.FromPretrained(LlamaFixture.Directory(name));
        using var ids = expected.Load("ids");
        using var mask = Tensor.FromArray(new long[] { 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 }, 2, 7);
        AssertCachedDecodingMatches(model, ids, mask, 3, name);
    }

    [Fact]
    public void TheCacheRejectsMorePositionsThanItHolds()
    {
        using var model = LlamaModel.FromPretrained(LlamaFixture.Directory("llama"));
        using var cache = model.CreateCache(1, 4);
        using var ids = Tensor.FromArray(new long[] { 1, 2, 3 }, 1, 3);
        using (GradMode.Disable())
        {
            using (model.Forward(ids, null, cache)) { }
            var e = Assert.Throws<InvalidOperationException>(() => model.Forward(ids, null, cache));
            Assert.Contains("capacity", e.Message);
        }
    }

    /// <summary>Feeds the first <paramref name="prefill"/> positions at once, then one token at a time, and
    /// compares every position's logits with one forward over the whole sequence (real positions only).</summary>
    private static void AssertCachedDecodingMatches(ICausalLanguageModel model, Tensor ids, Tensor? mask, int prefill, string what)
    {
        using var _ = GradMode.Disable();
        int b = ids.Shape[0], t = ids.Shape[1], v = model.VocabSize;
        using var full = model.Forward(ids, mask);                          // (B, T, V)
        var want = full.ToDoubleArray();
        var got = new double[want.Length];
        using var cache = model.CreateCache(b, t);
        int start = 0;
        while (start < t)
        {
            int n = start == 0 ? prefill : 1;
            using var chunk = Ops.Narrow(ids, 1, start, n);                  // (B, n)
            using var chunkIds = Ops.Contiguous(chunk);
            using var seen = mask is null ? null : Ops.Narrow(mask, 1, 0, start + n);   // (B, S)
            using var seenMask = seen is null ? null : Ops.Contiguous(seen);
            using var logits = model.Forward(chunkIds, seenMask, cache);     // (B, n, V)
            Assert.Equal(start + n, cache.Length);
            var l = logits.ToDoubleArray();
            for (int row = 0; row < b; row++)
                Array.Copy(l, (long)row * n * v, got, ((long)row * t + start) * v, (long)n * v);
            start += n;
        }
        var m = mask?.ToDoubleArray() ?? Enumerable.Repeat(1.0, b * t).ToArray();
        TestData.AssertClose(LlamaFixture.RealPositions(want, m, v), LlamaFixture.RealPositions(got, m, v),
            atol: 1e-5, rtol: 1e-5, what: what + " cached logits");
    }
}
