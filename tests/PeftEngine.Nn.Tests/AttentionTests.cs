using PeftEngine.Nn;

namespace PeftEngine.Tests;

public class AttentionTests
{
    [Fact]
    public void ForwardMatchesExplicitAttention()
    {
        // H = 4 query heads over Hkv = 2 key/value heads, D = 3, no rope.
        using var attn = new MultiHeadAttention(8, 4, numKvHeads: 2, headDim: 3, bias: true, dtype: DType.F64, generator: new Generator(1));
        Assert.Equal(new[] { "q_proj.weight", "q_proj.bias", "k_proj.weight", "k_proj.bias", "v_proj.weight", "v_proj.bias", "o_proj.weight", "o_proj.bias" },
            attn.NamedParameters().Select(p => p.Name));
        using var x = TestData.Param(2, 2, 5, 8);
        using var y = attn.Forward(x);
        Assert.Equal(new Shape(2, 5, 8), y.Shape);

        // Per batch, query head h uses kv head h / 2; explicit softmax(q kᵀ / √3 + causal) v.
        using var q = attn.QProj.Forward(x);   // (2, 5, 12)
        using var k = attn.KProj.Forward(x);   // (2, 5, 6)
        using var v = attn.VProj.Forward(x);
        var heads = new List<Tensor>();
        for (int h = 0; h < 4; h++)
        {
            using var qh = Ops.Narrow(q, 2, h * 3, 3);           // (2, 5, 3)
            using var kh = Ops.Narrow(k, 2, (h / 2) * 3, 3);
            using var vh = Ops.Narrow(v, 2, (h / 2) * 3, 3);
            using var kt = Ops.Transpose(kh, 1, 2);
            using var s = Ops.MatMul(qh, kt);
            using var ss = Ops.Mul(s, 1 / Math.Sqrt(3));
            using var mask = Ops.CausalMask(5, 5, DType.F64);
            using var sm = Ops.Add(ss, mask);
            using var p = Ops.Softmax(sm, -1);
            heads.Add(Ops.MatMul(p, vh));
        }
        using var merged = Ops.Cat(heads, 2);
        foreach (var h in heads) h.Dispose();
        using var expected = attn.OProj.Forward(merged);
        TestData.AssertClose(expected, y, 1e-12);
    }

    [Fact]
    public void AttentionGradcheckWithRope()
    {
        using var attn = new MultiHeadAttention(4, 2, numKvHeads: 1, useRope: true, maxPositions: 8, dtype: DType.F64, generator: new Generator(2));
        using (var sd = attn.StateDict()) Assert.DoesNotContain(sd.Keys, k => k.Contains("rope"));
        using var x = TestData.Param(3, 1, 3, 4);
        TestData.AssertGradients(_ => attn.Forward(x), LayerTests.WithParameters(attn, x));
    }

    [Fact]
    public void AttentionGradcheckWithoutGrouping()
    {
        // H = Hkv: keys and values are used as they are, and must still receive gradients.
        using var attn = new MultiHeadAttention(4, 2, bias: true, dtype: DType.F64, generator: new Generator(5));
        using var x = TestData.Param(6, 2, 3, 4);
        TestData.AssertGradients(_ => attn.Forward(x), LayerTests.WithParameters(attn, x));
        using var q = TestData.Param(3, 1, 2, 3, 2);
        using var k = TestData.Param(4, 1, 2, 3, 2);
        using var v = TestData.Param(5, 1, 2, 3, 2);
        TestData.AssertGradients(a => Ops.ScaledDotProductAttention(a[0], a[1], a[2], null, true), [q, k, v]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TokensOneAtATimeThroughTheCacheEqualAllAtOnce(bool rope)
    {
        const int b = 2, t = 6, c = 16;
        using var attn = new MultiHeadAttention(c, 4, numKvHeads: 2, useRope: rope, maxPositions: 16, generator: new Generator(3));
        attn.Eval();
        using var x = TestData.Uniform(4, new Shape(b, t, c), DType.F32);
        using (GradMode.Disable())
        {
            using var full = attn.Forward(x);
            using var cache = new KvCache(b, 2, 10, 4);
            var steps = new List<Tensor>();
            for (int i = 0; i < t; i++)
            {
                using var xi = Ops.Narrow(x, 1, i, 1);                 // (B, 1, C)
                steps.Add(attn.Forward(xi, null, cache));
            }
            Assert.Equal(t, cache.Length);
            using var incremental = Ops.Cat(steps, 1);
            foreach (var s in steps) s.Dispose();
            TestData.AssertClose(full, incremental, 1e-5, 1e-4);

            // A prefix of 4 then 2 more at once also agrees.
            cache.Reset();
            using var x0 = Ops.Narrow(x, 1, 0, 4);
            using var x1 = Ops.Narrow(x, 1, 4, 2);
            using var y0 = attn.Forward(x0, null, cache);
            using var y1 = attn.Forward(x1, null, cache);
            using var both = Ops.Cat([y0, y1], 1);
            TestData.AssertClose(full, both, 1e-5, 1e-4);
        }
    }

    [Fact]
    public void PaddingMaskHidesLeftPadding()
    {
        // Row 1 is left-padded by one token: its real tokens must attend exactly as the unpadded sequence does.
        using var attn = new MultiHeadAttention(8, 2, dtype: DType.F64, generator: new Generator(7));
        using var x = TestData.Uniform(8, new Shape(2, 5, 8));
        using var am = Tensor.FromArray(new long[] { 1, 1, 1, 1, 1, 0, 1, 1, 1, 1 }, 2, 5);
        using var mask = Ops.PaddingMask(am, DType.F64);                     // (B, 1, 1, S)
        using var y = attn.Forward(x, mask);
        using var row = Ops.Narrow(x, 0, 1, 1);
        using var real = Ops.Narrow(row, 1, 1, 4);                           // (1, 4, 8)
        using var alone = attn.Forward(real);
        using var yRow = Ops.Narrow(y, 0, 1, 1);
        using var yReal = Ops.Narrow(yRow, 1, 1, 4);
        using var yc = Ops.Contiguous(yReal);
        TestData.AssertClose(alone, yc, 1e-12);
    }

    [Fact]
    public void CacheRejectsOverflowAndWrongShapes()
    {
        using var cache = new KvCache(1, 2, 3, 4);
        using var k = Tensor.Zeros(new Shape(1, 2, 2, 4));
        var (a, b) = cache.Append(k, k);
        a.Dispose();
        b.Dispose();
        Assert.Throws<InvalidOperationException>(() => cache.Append(k, k));
        using var bad = Tensor.Zeros(new Shape(1, 3, 1, 4));
        Assert.Throws<ArgumentException>(() => cache.Append(bad, bad));
    }
}
