namespace PeftEngine.Tests;

public class AttentionTests
{
    /// <summary>Attention written out element by element, in double: the definition.</summary>
    private static double[] NaiveAttention(double[] q, double[] k, double[] v, int b, int h, int hkv, int t, int s, int d, bool causal)
    {
        var o = new double[b * h * t * d];
        int group = h / hkv;
        for (int bi = 0; bi < b; bi++)
            for (int hi = 0; hi < h; hi++)
                for (int i = 0; i < t; i++)
                {
                    int kh = hi / group;
                    var scores = new double[s];
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < s; j++)
                    {
                        if (causal && j > i + (s - t)) { scores[j] = double.NegativeInfinity; continue; }
                        double dot = 0;
                        for (int c = 0; c < d; c++)
                            dot += q[((bi * h + hi) * t + i) * d + c] * k[((bi * hkv + kh) * s + j) * d + c];
                        scores[j] = dot / Math.Sqrt(d);
                        max = Math.Max(max, scores[j]);
                    }
                    double z = 0;
                    for (int j = 0; j < s; j++) z += scores[j] = Math.Exp(scores[j] - max);
                    for (int c = 0; c < d; c++)
                    {
                        double acc = 0;
                        for (int j = 0; j < s; j++) acc += scores[j] / z * v[((bi * hkv + kh) * s + j) * d + c];
                        o[((bi * h + hi) * t + i) * d + c] = acc;
                    }
                }
        return o;
    }

    [Theory]
    [InlineData(2, 4, 4, 5, 5, false)]   // multi-head
    [InlineData(1, 4, 2, 3, 7, true)]    // grouped-query, causal with 4 cached positions
    [InlineData(2, 6, 1, 4, 4, true)]    // multi-query, causal
    public void MatchesTheDefinition(int b, int h, int hkv, int t, int s, bool causal)
    {
        const int d = 8;
        using var q = TestData.Uniform(1, new Shape(b, h, t, d));
        using var k = TestData.Uniform(2, new Shape(b, hkv, s, d));
        using var v = TestData.Uniform(3, new Shape(b, hkv, s, d));
        using var o = Ops.ScaledDotProductAttention(q, k, v, isCausal: causal);
        var expected = NaiveAttention(q.ToArray<double>(), k.ToArray<double>(), v.ToArray<double>(), b, h, hkv, t, s, d, causal);
        TestData.AssertClose(expected, o.ToArray<double>(), atol: 1e-12, rtol: 1e-12);
    }

    [Fact]
    public void GradientsMatchFiniteDifferences()
    {
        var q = TestData.Param(4, 1, 4, 3, 5);
        var k = TestData.Param(5, 1, 2, 4, 5);
        var v = TestData.Param(6, 1, 2, 4, 3);
        TestData.AssertGradients(x => Ops.ScaledDotProductAttention(x[0], x[1], x[2], isCausal: true), [q, k, v]);
    }

    [Fact]
    public void PaddingMaskHidesPaddedKeys()
    {
        using var q = TestData.Uniform(7, new Shape(1, 2, 3, 4));
        using var k = TestData.Uniform(8, new Shape(1, 2, 5, 4));
        using var v = TestData.Uniform(9, new Shape(1, 2, 5, 4));
        using var attn = Tensor.FromArray(new long[] { 1, 1, 1, 0, 0 }, 1, 5);
        using var mask = Ops.PaddingMask(attn, DType.F64);                   // (1, 1, 1, 5)
        using var masked = Ops.ScaledDotProductAttention(q, k, v, mask);
        using var k3 = Ops.Narrow(k, 2, 0, 3);
        using var v3 = Ops.Narrow(v, 2, 0, 3);
        using var trimmed = Ops.ScaledDotProductAttention(q, k3, v3);        // the same without the padded keys
        TestData.AssertClose(trimmed, masked, atol: 1e-12, rtol: 1e-12);
    }

    [Fact]
    public void FastAndReferenceBackendsAgree()
    {
        var q = TestData.Uniform(10, new Shape(2, 4, 9, 16), DType.F32);
        var k = TestData.Uniform(11, new Shape(2, 2, 9, 16), DType.F32);
        var v = TestData.Uniform(12, new Shape(2, 2, 9, 16), DType.F32);
        TestData.AssertMatchesReference(x => Ops.ScaledDotProductAttention(x[0], x[1], x[2], isCausal: true), [q, k, v], atol: 1e-5);
    }

    [Fact]
    public void MismatchedShapesAreRejected()
    {
        using var q = TestData.Uniform(1, new Shape(1, 3, 2, 4));
        using var k = TestData.Uniform(2, new Shape(1, 2, 2, 4));
        var ex = Assert.Throws<ArgumentException>(() => Ops.ScaledDotProductAttention(q, k, k));
        Assert.Contains("multiple", ex.Message);
    }
}
