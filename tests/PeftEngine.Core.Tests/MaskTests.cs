namespace PeftEngine.Tests;

public class MaskTests
{
    private const double Inf = double.NegativeInfinity;

    [Fact]
    public void CausalMaskHidesTheFuture()
    {
        using var m = Ops.CausalMask(3);
        Assert.Equal(DType.F32, m.DType);
        Assert.Equal(new double[] { 0, Inf, Inf, 0, 0, Inf, 0, 0, 0 }, m.ToDoubleArray());
    }

    [Fact]
    public void CausalMaskWithCachedKeysAlignsQueriesToTheEnd()
    {
        using var m = Ops.CausalMask(2, 4, DType.F64);   // 2 new queries after 2 cached positions
        Assert.Equal(new double[] { 0, 0, 0, Inf, 0, 0, 0, 0 }, m.ToArray<double>());
        Assert.Throws<ArgumentException>(() => Ops.CausalMask(4, 2));
    }

    [Fact]
    public void PaddingMaskFromU8AndI64()
    {
        using var u8 = Tensor.FromArray(new byte[] { 1, 1, 0, 1, 0, 0 }, 2, 3);
        using var i64 = Tensor.FromArray(new long[] { 1, 1, 0, 1, 0, 0 }, 2, 3);
        var expected = new double[] { 0, 0, Inf, 0, Inf, Inf };
        foreach (var mask in new[] { u8, i64 })
        {
            using var m = Ops.PaddingMask(mask);
            Assert.Equal(new Shape(2, 1, 1, 3), m.Shape);
            Assert.Equal(expected, m.ToDoubleArray());
        }
        using var f = Tensor.FromArray(new float[] { 1, 0 }, 1, 2);
        Assert.Throws<ArgumentException>(() => Ops.PaddingMask(f));
    }

    [Fact]
    public void MasksAddedToScoresZeroTheMaskedProbabilities()
    {
        using var scores = TestData.Uniform(1, new Shape(2, 1, 3, 3), DType.F32);   // (B, nh, T, S)
        using var attention = Tensor.FromArray(new long[] { 1, 1, 1, 1, 1, 0 }, 2, 3);
        using var causal = Ops.CausalMask(3);
        using var padding = Ops.PaddingMask(attention);
        using var masked = scores + causal + padding;
        using var p = Ops.Softmax(masked);
        var v = p.ToDoubleArray();
        Assert.Equal(0, v[1]);                  // batch 0, query 0 cannot see key 1
        Assert.Equal(0, v[9 + 3 + 2]);          // batch 1, query 1: key 2 is padding
        Assert.Equal(0, v[9 + 6 + 2]);          // batch 1, query 2: key 2 is padding
        Assert.Equal(1.0, v[0], 6);
    }
}
