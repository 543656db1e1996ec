namespace PeftEngine.Tests;

/// <summary>Float64 finite-difference checks of the backward of every neural-network op.</summary>
public class NnGradTests
{
    private static Tensor Ids(long[] values, params int[] shape) => Tensor.FromArray(values, shape);

    [Fact]
    public void SoftmaxAndLogSoftmaxOverTheLastDimension()
    {
        var x = TestData.Param(1, 3, 7);
        TestData.AssertGradients(t => Ops.Softmax(t[0]), [x]);
        TestData.AssertGradients(t => Ops.LogSoftmax(t[0]), [x]);
    }

    [Fact]
    public void SoftmaxOverANonLastDimension()
    {
        var x = TestData.Param(2, 4, 5, 3);
        TestData.AssertGradients(t => Ops.Softmax(t[0], 1), [x]);
        TestData.AssertGradients(t => Ops.LogSoftmax(t[0], 0), [x]);
        using var y = Ops.Softmax(x, 1);
        using var sums = Ops.Sum(y, 1);
        TestData.AssertClose(Enumerable.Repeat(1.0, 12).ToArray(), sums.ToDoubleArray(), 1e-12);
    }

    [Fact]
    public void SoftmaxOfANonContiguousView()
    {
        var x = TestData.Param(3, 6, 4);
        TestData.AssertGradients(t => Ops.Softmax(Ops.Transpose(t[0], 0, 1)), [x]);            // (4, 6), strided rows
        TestData.AssertGradients(t => Ops.LogSoftmax(Ops.Slice(t[0], 0, 1, 6, 2), -1), [x]);   // every other row
    }

    [Fact]
    public void LayerNormWithWeightAndBias()
    {
        var x = TestData.Param(4, 2, 3, 8);
        var w = TestData.Param(5, 8);
        var b = TestData.Param(6, 8);
        TestData.AssertGradients(t => Ops.LayerNorm(t[0], weight: t[1], bias: t[2]), [x, w, b]);
        TestData.AssertGradients(t => Ops.LayerNorm(t[0], weight: t[1]), [x, w]);
        TestData.AssertGradients(t => Ops.LayerNorm(t[0], bias: t[1]), [x, b]);
        TestData.AssertGradients(t => Ops.LayerNorm(t[0]), [x]);
    }

    [Fact]
    public void LayerNormOverSeveralTrailingDimensions()
    {
        var x = TestData.Param(7, 2, 3, 5);
        var w = TestData.Param(8, 3, 5);
        var b = TestData.Param(9, 3, 5);
        TestData.AssertGradients(t => Ops.LayerNorm(t[0], [3, 5], t[1], t[2], eps: 1e-3), [x, w, b]);
    }

    [Fact]
    public void LayerNormOfATransposedInput()
    {
        var x = TestData.Param(10, 7, 4);
        var w = TestData.Param(11, 7);
        TestData.AssertGradients(t => Ops.LayerNorm(Ops.Transpose(t[0], 0, 1), weight: t[1]), [x, w]); // rows of 7 with stride 4
    }

    [Fact]
    public void LayerNormWithFrozenWeightAndBiasGivesThemNoGradient()
    {
        var x = TestData.Param(12, 3, 6);
        var w = TestData.Uniform(13, new Shape(6));
        var b = TestData.Uniform(14, new Shape(6));
        TestData.AssertGradients(t => Ops.LayerNorm(t[0], weight: t[1], bias: t[2]), [x, w, b]);
        Assert.Null(w.Grad);
        Assert.Null(b.Grad);

        // And the other way round: a trainable weight on a frozen input.
        var frozenX = TestData.Uniform(15, new Shape(3, 6));
        var w2 = TestData.Param(16, 6);
        TestData.AssertGradients(t => Ops.LayerNorm(t[0], weight: t[1]), [frozenX, w2]);
        Assert.Null(frozenX.Grad);
        Assert.NotNull(w2.Grad);
    }

    [Fact]
    public void RmsNormWithAndWithoutWeight()
    {
        var x = TestData.Param(17, 2, 3, 9);
        var w = TestData.Param(18, 9);
        TestData.AssertGradients(t => Ops.RmsNorm(t[0], t[1]), [x, w]);
        TestData.AssertGradients(t => Ops.RmsNorm(t[0]), [x]);
        TestData.AssertGradients(t => Ops.RmsNorm(Ops.Transpose(t[0], 1, 2), t[1]), [TestData.Param(19, 2, 3, 9), TestData.Param(20, 3)]);
    }

    [Fact]
    public void CrossEntropyOverRows()
    {
        var logits = TestData.Param(21, 5, 7);
        var targets = Ids([3, 0, 6, 2, 2], 5);
        TestData.AssertGradients(t => Ops.CrossEntropy(t[0], targets), [logits]);
        TestData.AssertGradients(t => Ops.CrossEntropy(t[0], targets, reduction: LossReduction.Sum), [logits]);
        TestData.AssertGradients(t => Ops.CrossEntropy(t[0], targets, reduction: LossReduction.None), [logits]);
    }

    [Fact]
    public void CrossEntropyWithIgnoreIndexAndLabelSmoothing()
    {
        var logits = TestData.Param(22, 6, 5);
        var targets = Ids([1, -100, 4, 0, -100, 3], 6);
        foreach (var reduction in new[] { LossReduction.Mean, LossReduction.Sum, LossReduction.None })
        {
            TestData.AssertGradients(t => Ops.CrossEntropy(t[0], targets, reduction: reduction), [logits]);
            TestData.AssertGradients(t => Ops.CrossEntropy(t[0], targets, labelSmoothing: 0.2, reduction: reduction), [logits]);
        }
        TestData.AssertGradients(t => Ops.CrossEntropy(t[0], Ids([1, 7, 4, 0, 7, 3], 6), ignoreIndex: 7, labelSmoothing: 0.1), [logits]);
    }

    [Fact]
    public void CrossEntropyOfSequenceLogits()
    {
        var logits = TestData.Param(23, 2, 3, 4);                  // (B, T, C)
        var targets = Ids([0, 3, -100, 1, 1, 2], 2, 3);          // (B, T)
        TestData.AssertGradients(t => Ops.CrossEntropy(t[0], targets, labelSmoothing: 0.05), [logits]);
        TestData.AssertGradients(t => Ops.CrossEntropy(t[0], targets, reduction: LossReduction.None), [logits]);
        // Class dimension last, from a transposed (B, C, T) tensor.
        var bct = TestData.Param(24, 2, 4, 3);
        TestData.AssertGradients(t => Ops.CrossEntropy(Ops.Transpose(t[0], 1, 2), targets), [bct]);
    }

    [Fact]
    public void MseLossAgainstBothSides()
    {
        var a = TestData.Param(25, 3, 4);
        var b = TestData.Param(26, 3, 4);
        TestData.AssertGradients(t => Ops.MseLoss(t[0], t[1]), [a, b]);
        TestData.AssertGradients(t => Ops.MseLoss(t[0], t[1], LossReduction.Sum), [a, b]);
        TestData.AssertGradients(t => Ops.MseLoss(t[0], t[1], LossReduction.None), [a, b]);
    }

    [Fact]
    public void EmbeddingWithRepeatedIds()
    {
        var w = TestData.Param(27, 5, 3);
        var ids = Ids([1, 3, 1, 0, 3, 3], 2, 3);
        TestData.AssertGradients(t => Ops.Embedding(t[0], ids), [w]);
        using var y = Ops.Embedding(w, ids);
        Assert.Equal(new Shape(2, 3, 3), y.Shape);
    }

    [Fact]
    public void EmbeddingOfATransposedTable()
    {
        var wt = TestData.Param(28, 4, 6);   // stored (D, V), used as its (V, D) transpose
        var ids = Ids([5, 0, 5, 2], 4);
        TestData.AssertGradients(t => Ops.Embedding(Ops.Transpose(t[0], 0, 1), ids), [wt]);
    }

    [Theory]
    [InlineData(RopeStyle.Interleaved)]
    [InlineData(RopeStyle.RotateHalf)]
    public void RotaryEmbeddingBothStyles(RopeStyle style)
    {
        var (cos, sin) = Ops.RotaryTables(8, 12, dtype: DType.F64);
        var x = TestData.Param(29, 2, 3, 5, 8);   // (B, nh, T, hs)
        TestData.AssertGradients(t => Ops.ApplyRotary(t[0], cos, sin, 0, style), [x]);
        TestData.AssertGradients(t => Ops.ApplyRotary(t[0], cos, sin, 4, style), [x]);
        // A transposed input, (B, T, nh, hs) -> (B, nh, T, hs), and a partial rotary width of 4 of 8.
        var (cos4, sin4) = Ops.RotaryTables(4, 12, theta: 500, dtype: DType.F64);
        var y = TestData.Param(30, 2, 5, 3, 8);
        TestData.AssertGradients(t => Ops.ApplyRotary(Ops.Transpose(t[0], 1, 2), cos4, sin4, 3, style), [y]);
    }

    [Fact]
    public void OpsComposeInOneGraph()
    {
        // A miniature language-model head: embedding, RMS norm, rotary, softmax-weighted mix, cross-entropy.
        var table = TestData.Param(31, 6, 4);
        var norm = TestData.Param(32, 4);
        var ids = Ids([2, 5, 2, 1], 1, 4);
        var targets = Ids([3, 2, -100, 0], 1, 4);
        var (cos, sin) = Ops.RotaryTables(4, 4, dtype: DType.F64);
        TestData.AssertGradients(t =>
        {
            using var e = Ops.Embedding(t[0], ids);                 // (1, 4, 4)
            using var h = Ops.RmsNorm(e, t[1]);
            using var r = Ops.ApplyRotary(h, cos, sin);
            using var p = Ops.Softmax(r, 1);
            using var logits = Ops.Mul(p, 3.0);
            using var padded = Ops.LogSoftmax(logits);
            return Ops.CrossEntropy(padded, targets, labelSmoothing: 0.1);
        }, [table, norm]);
    }
}
