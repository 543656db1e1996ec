namespace PeftEngine.Tests;

public class IndexingGradTests
{
    private static Tensor Iota(params int[] shape)
    {
        long n = new Shape(shape).Numel;
        return Tensor.FromArray(Enumerable.Range(0, (int)n).Select(i => (double)i).ToArray(), shape);
    }

    private static Tensor Idx(params long[] values) => Tensor.FromArray(values);

    private static Tensor Idx(long[,] values) => Tensor.FromArray(values);

    /// <summary>Random indices in [0, max) of the given shape (repeats likely).</summary>
    private static Tensor RandomIndex(int seed, int max, params int[] shape)
    {
        var rng = new Random(seed);
        var v = new long[new Shape(shape).Numel];
        for (int i = 0; i < v.Length; i++) v[i] = rng.Next(max);
        return Tensor.FromArray(v, shape);
    }

    private static Tensor Mask(int[] shape, params byte[] values) => Tensor.FromArray(values, shape);

    // ---- index-select ----

    [Fact]
    public void IndexSelectPicksRowsAndColumnsInIndexOrder()
    {
        using var x = Iota(4, 3);
        using var rows = Ops.IndexSelect(x, 0, Idx(2, 0, 2));
        Assert.Equal(new Shape(3, 3), rows.Shape);
        Assert.Equal(new double[] { 6, 7, 8, 0, 1, 2, 6, 7, 8 }, rows.ToArray<double>());
        using var cols = Ops.IndexSelect(x, -1, Idx(1, 1));
        Assert.Equal(new double[] { 1, 1, 4, 4, 7, 7, 10, 10 }, cols.ToArray<double>());
        using var none = Ops.IndexSelect(x, 0, Tensor.FromArray(Array.Empty<long>()));
        Assert.Equal(new Shape(0, 3), none.Shape);
    }

    [Fact]
    public void IndexSelectBackwardAddsRepeatedPicks()
    {
        var x = Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6 }, 3, 2).RequireGrad();
        using var y = Ops.IndexSelect(x, 0, Idx(0, 2, 0, 0));
        using var s = y.Sum();
        s.Backward();
        Assert.Equal(new double[] { 3, 3, 0, 0, 1, 1 }, x.Grad!.ToArray<double>());
    }

    [Fact]
    public void IndexSelectGradientsWithRepeatedIndices()
    {
        var a = TestData.Param(1, 5, 4, 3);
        TestData.AssertGradients(x => Ops.IndexSelect(x[0], 0, Idx(4, 1, 1, 0, 4, 4)), [a]);
        TestData.AssertGradients(x => Ops.IndexSelect(x[0], 1, Idx(3, 3, 0)), [a]);
        TestData.AssertGradients(x => Ops.IndexSelect(x[0], -1, Idx(2, 0, 2, 2, 1)), [a]);
        // non-contiguous input (transposed) and a strided index
        using var strided = Ops.Slice(Idx(0, 9, 2, 9, 2, 9, 4), 0, 0, 7, 2); // 0, 2, 2, 4
        TestData.AssertGradients(x => Ops.IndexSelect(Ops.Transpose(x[0], 0, 2), 2, strided), [a]);
    }

    // ---- gather ----

    [Fact]
    public void GatherMatchesTheTorchDocsExample()
    {
        using var t = Tensor.FromArray(new double[,] { { 1, 2 }, { 3, 4 } });
        using var g1 = Ops.Gather(t, 1, Idx(new long[,] { { 0, 0 }, { 1, 0 } }));
        Assert.Equal(new double[] { 1, 1, 4, 3 }, g1.ToArray<double>());
        using var g0 = Ops.Gather(t, 0, Idx(new long[,] { { 1, 0 }, { 1, 1 }, { 0, 0 } }));
        Assert.Equal(new Shape(3, 2), g0.Shape);
        Assert.Equal(new double[] { 3, 2, 3, 4, 1, 2 }, g0.ToArray<double>());
    }

    [Fact]
    public void GatherWithAnIndexSmallerThanTheInputOutsideDim()
    {
        using var x = Iota(3, 4);
        // index (2, 2) along dim 1 only looks at rows 0..1 and reads x[i][index[i][j]]
        using var y = Ops.Gather(x, 1, Idx(new long[,] { { 3, 0 }, { 2, 2 } }));
        Assert.Equal(new double[] { 3, 0, 6, 6 }, y.ToArray<double>());
    }

    [Fact]
    public void GatherGradients()
    {
        var a = TestData.Param(2, 3, 4, 5);
        TestData.AssertGradients(x => Ops.Gather(x[0], 1, RandomIndex(1, 4, 3, 6, 5)), [a]);
        TestData.AssertGradients(x => Ops.Gather(x[0], 0, RandomIndex(2, 3, 4, 4, 5)), [a]);
        TestData.AssertGradients(x => Ops.Gather(x[0], -1, RandomIndex(3, 5, 3, 4, 2)), [a]);
        TestData.AssertGradients(x => Ops.Gather(x[0], 1, RandomIndex(4, 4, 2, 3, 4)), [a]); // smaller outside dim
        TestData.AssertGradients(x => Ops.Gather(Ops.Transpose(x[0], 0, 2), 1, RandomIndex(5, 4, 5, 7, 3)), [a]);
    }

    // ---- scatter-add ----

    [Fact]
    public void ScatterAddMatchesTheTorchDocsExample()
    {
        using var src = Tensor.Ones(new Shape(2, 5), DType.F64);
        using var index = Idx(new long[,] { { 0, 1, 2, 0, 0 }, { 0, 1, 2, 2, 2 } });
        using var x = Tensor.Zeros(new Shape(3, 5), DType.F64);
        using var y = Ops.ScatterAdd(x, 0, index, src);
        Assert.Equal(new double[] { 2, 0, 0, 1, 1, 0, 2, 0, 0, 0, 0, 0, 2, 1, 1 }, y.ToArray<double>());
        Assert.Equal(new double[15], x.ToArray<double>()); // out of place
        // only the first index.size(d) elements of a larger src are used
        using var big = Iota(2, 6);
        using var partial = Ops.ScatterAdd(x, 1, Idx(new long[,] { { 4, 4 } }), big);
        Assert.Equal(new double[] { 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, partial.ToArray<double>());
    }

    [Fact]
    public void ScatterAddGradientsForXAndSrc()
    {
        var x = TestData.Param(3, 4, 3, 5);
        var src = TestData.Param(4, 4, 6, 5);
        TestData.AssertGradients(t => Ops.ScatterAdd(t[0], 1, RandomIndex(6, 3, 4, 6, 5), t[1]), [x, src]);
        var src0 = TestData.Param(5, 7, 3, 5);
        TestData.AssertGradients(t => Ops.ScatterAdd(t[0], 0, RandomIndex(7, 4, 7, 3, 5), t[1]), [x, src0]);
        // index smaller than x outside dim and smaller than src everywhere
        var src2 = TestData.Param(6, 3, 4, 5);
        TestData.AssertGradients(t => Ops.ScatterAdd(t[0], 2, RandomIndex(8, 5, 2, 3, 4), t[1]), [x, src2]);
        // non-contiguous src
        var srcT = TestData.Param(7, 5, 3, 4);
        TestData.AssertGradients(t => Ops.ScatterAdd(t[0], -1, RandomIndex(9, 5, 4, 3, 5), Ops.Transpose(t[1], 0, 2)), [x, srcT]);
    }

    [Fact]
    public void IndexAddInPlaceAccumulatesAndBumpsTheVersion()
    {
        using var x = Tensor.Zeros(new Shape(3, 2), DType.F64);
        using var src = Iota(4, 2);
        int before = x.Storage.Version;
        Ops.IndexAddInPlace(x, 0, Idx(2, 0, 2, 2), src);
        Assert.Equal(new double[] { 2, 3, 0, 0, 0 + 4 + 6, 1 + 5 + 7 }, x.ToArray<double>());
        Assert.NotEqual(before, x.Storage.Version);
        // along dim 1 of a transposed (non-contiguous) target
        using var y = Tensor.Zeros(new Shape(2, 3), DType.F64);
        using var yt = Ops.Transpose(y, 0, 1);   // (3, 2)
        Ops.IndexAddInPlace(yt, 1, Idx(1, 1), Iota(3, 2));
        Assert.Equal(new double[] { 0, 0, 0, 1, 5, 9 }, y.ToArray<double>());
        var p = TestData.Param(1, 3, 2);
        Assert.Throws<InvalidOperationException>(() => Ops.IndexAddInPlace(p, 0, Idx(0), Iota(1, 2)));
    }

    // ---- masked fill ----

    [Fact]
    public void MaskedFillSetsMaskedPositionsAndBroadcastsTheMask()
    {
        using var x = Iota(2, 3);
        using var m = Mask([3], 1, 0, 1);
        using var y = Ops.MaskedFill(x, m, -5);
        Assert.Equal(new double[] { -5, 1, -5, -5, 4, -5 }, y.ToArray<double>());
        using var causal = Ops.FutureMask(3);
        using var s = Iota(3, 3);
        using var hidden = Ops.MaskedFill(s, causal, double.NegativeInfinity);
        double inf = double.NegativeInfinity;
        Assert.Equal(new double[] { 0, inf, inf, 3, 4, inf, 6, 7, 8 }, hidden.ToArray<double>());
        using var bad = Mask([2], 1, 0);
        Assert.Throws<ArgumentException>(() => Ops.MaskedFill(x, bad, 0));
    }

    [Fact]
    public void MaskedFillGradientIsZeroWhereMasked()
    {
        var a = TestData.Param(8, 3, 4, 5);
        using var m = Mask([4, 1], 1, 0, 0, 1);
        using var m2 = Mask([3, 1, 5], 1, 0, 1, 1, 0, 0, 0, 1, 0, 0, 1, 1, 1, 1, 1);
        TestData.AssertGradients(x => Ops.MaskedFill(x[0], m, 2.5), [a]);
        TestData.AssertGradients(x => Ops.MaskedFill(Ops.Transpose(x[0], 0, 1), Ops.Transpose(m2, 0, 1), -1), [a]);
        var w = Tensor.FromArray(new double[] { 1, 2, 3 }).RequireGrad();
        using var y = Ops.MaskedFill(w, Mask([3], 0, 1, 0), 9);
        using var sum = (y * y).Sum();
        sum.Backward();
        Assert.Equal(new double[] { 2, 0, 6 }, w.Grad!.ToArray<double>());
    }

    // ---- cat / stack / split / chunk ----

    [Fact]
    public void CatJoinsAlongADimension()
    {
        using var a = Iota(2, 2);
        using var b = Iota(2, 1) + 10.0;
        using var c = Ops.Cat([a, b], 1);
        Assert.Equal(new double[] { 0, 1, 10, 2, 3, 11 }, c.ToArray<double>());
        using var d = Ops.Cat([a, a, Ops.Transpose(a, 0, 1)], 0);
        Assert.Equal(new Shape(6, 2), d.Shape);
        Assert.Equal(new double[] { 0, 1, 2, 3, 0, 1, 2, 3, 0, 2, 1, 3 }, d.ToArray<double>());
        var ex = Assert.Throws<ArgumentException>(() => Ops.Cat([a, b], 0));
        Assert.Contains("Cat", ex.Message);
        Assert.Contains("(2, 1)", ex.Message);
    }

    [Fact]
    public void CatGradientsOfThreeInputsOneNonContiguous()
    {
        var a = TestData.Param(10, 2, 3, 4);
        var b = TestData.Param(11, 4, 3, 2);   // transposed to (2, 3, 4) inside f
        var c = TestData.Param(12, 2, 3, 4);
        var x0 = TestData.Param(13, 1, 3, 4);
        TestData.AssertGradients(x => Ops.Cat([x[0], Ops.Transpose(x[1], 0, 2), x[2]], 0), [a, b, c]);
        TestData.AssertGradients(x => Ops.Cat([x[0], Ops.Transpose(x[1], 0, 2), x[2]], 1), [a, b, c]);
        TestData.AssertGradients(x => Ops.Cat([x[0], Ops.Transpose(x[1], 0, 2), x[2]], -1), [a, b, c]);
        TestData.AssertGradients(x => Ops.Cat([x[0], x[1], x[0]], 0) * 2.0, [x0, a]);
        // an input that needs no gradient gets none
        var frozen = TestData.Uniform(14, new Shape(2, 3, 4));
        using var y = Ops.Cat([a, frozen], 2);
        using var s = y.Sum();
        a.ZeroGrad();
        s.Backward();
        Assert.Null(frozen.Grad);
        Assert.Equal(Enumerable.Repeat(1.0, 24), a.Grad!.ToArray<double>());
    }

    [Fact]
    public void StackAddsADimension()
    {
        using var a = Iota(2, 3);
        using var b = Iota(2, 3) * -1.0;
        using var s1 = Ops.Stack([a, b], 1);
        Assert.Equal(new Shape(2, 2, 3), s1.Shape);
        Assert.Equal(new double[] { 0, 1, 2, 0, -1, -2, 3, 4, 5, -3, -4, -5 }, s1.ToArray<double>());
        using var s2 = Ops.Stack([a, b, a], -1);
        Assert.Equal(new Shape(2, 3, 3), s2.Shape);
        Assert.Throws<ArgumentException>(() => Ops.Stack([a, Iota(3, 2)], 0));
        var p = TestData.Param(15, 3, 2);
        var q = TestData.Param(16, 2, 3);
        TestData.AssertGradients(x => Ops.Stack([x[0], Ops.Transpose(x[1], 0, 1), x[0]], 0), [p, q]);
        TestData.AssertGradients(x => Ops.Stack([x[0], Ops.Transpose(x[1], 0, 1)], 2), [p, q]);
    }

    [Fact]
    public void SplitAndChunkAreViewsWithTheRightSizes()
    {
        using var x = Iota(7, 2);
        var parts = Ops.Split(x, 3);
        Assert.Equal(new[] { 3, 3, 1 }, parts.Select(p => p.Shape[0]));
        Assert.Same(x.Storage, parts[2].Storage);
        Assert.Equal(new double[] { 12, 13 }, parts[2].ToArray<double>());
        var chunks = Ops.Chunk(x, 4);   // ceil(7 / 4) = 2 -> 2, 2, 2, 1
        Assert.Equal(new[] { 2, 2, 2, 1 }, chunks.Select(p => p.Shape[0]));
        Assert.Equal(3, Ops.Chunk(Iota(6), 4).Length); // 2, 2, 2: fewer pieces than asked
        var cols = Ops.Split(x, [1, 1], 1);
        Assert.Equal(new double[] { 1, 3, 5, 7, 9, 11, 13 }, cols[1].ToArray<double>());
        var ex = Assert.Throws<ArgumentException>(() => Ops.Split(x, [3, 3], 0));
        Assert.Contains("Split", ex.Message);
        Assert.Contains("7", ex.Message);
    }

    [Fact]
    public void SplitAndChunkGradients()
    {
        var a = TestData.Param(17, 3, 5, 2);
        TestData.AssertGradients(x =>
        {
            var p = Ops.Split(x[0], [1, 3, 1], 1);
            return Ops.Cat([p[2] * 2.0, p[0], p[1] * p[1]], 1);
        }, [a]);
        TestData.AssertGradients(x =>
        {
            var c = Ops.Chunk(x[0], 2, -1);          // two (3, 5, 1) halves
            return c[0] * c[1];
        }, [a]);
        TestData.AssertGradients(x => Ops.Split(Ops.Transpose(x[0], 0, 1), 2, 0)[1], [a]); // only one piece used
    }

    // ---- triangles, arange, one-hot ----

    [Fact]
    public void TrilAndTriuKeepTheRightTriangle()
    {
        using var x = Iota(3, 4) + 1.0;
        using var l = Ops.Tril(x);
        Assert.Equal(new double[] { 1, 0, 0, 0, 5, 6, 0, 0, 9, 10, 11, 0 }, l.ToArray<double>());
        using var u1 = Ops.Triu(x, 1);
        Assert.Equal(new double[] { 0, 2, 3, 4, 0, 0, 7, 8, 0, 0, 0, 12 }, u1.ToArray<double>());
        using var lm = Ops.Tril(x, -1);
        Assert.Equal(new double[] { 0, 0, 0, 0, 5, 0, 0, 0, 9, 10, 0, 0 }, lm.ToArray<double>());
        using var mask = Ops.TrilMask(3, 3);
        Assert.Equal(DType.U8, mask.DType);
        Assert.Equal(new byte[] { 1, 0, 0, 1, 1, 0, 1, 1, 1 }, mask.ToArray<byte>());
        using var causal = Ops.FutureMask(3);
        Assert.Equal(new byte[] { 0, 1, 1, 0, 0, 1, 0, 0, 0 }, causal.ToArray<byte>());
        Assert.Throws<ArgumentException>(() => Ops.Tril(Iota(3)));
    }

    [Fact]
    public void TrilAndTriuGradients()
    {
        var a = TestData.Param(18, 2, 4, 5);
        foreach (int k in new[] { -1, 0, 2 })
        {
            TestData.AssertGradients(x => Ops.Tril(x[0], k), [a]);
            TestData.AssertGradients(x => Ops.Triu(x[0], k), [a]);
        }
        TestData.AssertGradients(x => Ops.Tril(Ops.Transpose(x[0], 1, 2), 1), [a]);
    }

    [Fact]
    public void ArangeCountsLikeTorch()
    {
        using var a = Ops.Arange(0, 5);
        Assert.Equal(DType.F32, a.DType);
        Assert.Equal(new float[] { 0, 1, 2, 3, 4 }, a.ToArray<float>());
        using var b = Ops.Arange(1, 2, 0.25, DType.F64);
        Assert.Equal(new double[] { 1, 1.25, 1.5, 1.75 }, b.ToArray<double>());
        using var c = Ops.Arange(10, 0, -3, DType.I64);
        Assert.Equal(new long[] { 10, 7, 4, 1 }, c.ToArray<long>());
        using var e = Ops.Arange(3, 3, 1, DType.I64);
        Assert.Equal(0, e.Numel);
        Assert.Throws<ArgumentException>(() => Ops.Arange(0, 5, 0));
        Assert.Throws<ArgumentException>(() => Ops.Arange(0, 5, -1));
        Assert.Throws<ArgumentException>(() => Ops.Arange(0, 5, 1, DType.U8));
    }

    [Fact]
    public void OneHotEncodesIndices()
    {
        using var idx = Idx(new long[,] { { 0, 2 }, { 1, 0 } });
        using var h = Ops.OneHot(idx, 3);
        Assert.Equal(new Shape(2, 2, 3), h.Shape);
        Assert.Equal(DType.I64, h.DType);
        Assert.Equal(new long[] { 1, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0 }, h.ToArray<long>());
        using var inferred = Ops.OneHot(Idx(3, 1), dtype: DType.F32);
        Assert.Equal(new Shape(2, 4), inferred.Shape);
        Assert.Equal(new float[] { 0, 0, 0, 1, 0, 1, 0, 0 }, inferred.ToArray<float>());
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.OneHot(Idx(0, 3), 3));
        Assert.Contains("OneHot", ex.Message);
        Assert.Contains("index 3", ex.Message);
    }

    // ---- errors ----

    [Fact]
    public void OutOfRangeIndicesNameTheOpTheValueAndTheSize()
    {
        using var x = Iota(5, 3);
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.IndexSelect(x, 0, Idx(1, 7)));
        Assert.Contains("IndexSelect", e1.Message);
        Assert.Contains("index 7", e1.Message);
        Assert.Contains("size 5", e1.Message);
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Gather(x, 1, Idx(new long[,] { { 0, -1 } })));
        Assert.Contains("Gather", e2.Message);
        Assert.Contains("index -1", e2.Message);
        Assert.Contains("size 3", e2.Message);
        using var src = Tensor.Ones(new Shape(1, 2), DType.F64);
        var e3 = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.ScatterAdd(x, 0, Idx(new long[,] { { 5, 0 } }), src));
        Assert.Contains("ScatterAdd", e3.Message);
        Assert.Contains("index 5", e3.Message);
        var e4 = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.IndexAddInPlace(x, 1, Idx(3), Tensor.Ones(new Shape(5, 1), DType.F64)));
        Assert.Contains("IndexAddInPlace", e4.Message);
        Assert.Contains("size 3", e4.Message);
        using var i32 = Tensor.FromArray(new[] { 0, 1 });
        var e5 = Assert.Throws<ArgumentException>(() => Ops.IndexSelect(x, 0, i32));
        Assert.Contains("i64", e5.Message);
        var e6 = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.IndexSelect(x, 2, Idx(0)));
        Assert.Contains("IndexSelect", e6.Message);
        var e7 = Assert.Throws<ArgumentException>(() => Ops.Gather(x, 0, Idx(0, 1)));
        Assert.Contains("same number of dimensions", e7.Message);
    }
}
