namespace PeftEngine.Tests;

public class MatMulGradTests
{
    [Fact]
    public void SmallProductsHaveTheirHandComputedValues()
    {
        using var a = Tensor.FromArray(new double[,] { { 1, 2 }, { 3, 4 } });
        using var b = Tensor.FromArray(new double[,] { { 5, 6 }, { 7, 8 } });
        using var c = Ops.MatMul(a, b);
        Assert.Equal(new double[] { 19, 22, 43, 50 }, c.ToArray<double>());

        using var u = Tensor.FromArray(new double[] { 1, 2, 3 });
        using var v = Tensor.FromArray(new double[] { 4, 5, 6 });
        using var dot = Ops.MatMul(u, v);
        Assert.Equal(0, dot.Rank);
        Assert.Equal(32, dot.Item());

        using var x = Tensor.FromArray(new double[] { 1, -1 });
        using var xa = Ops.MatMul(x, a); // row vector times matrix: (2) · (2, 2) -> (2)
        Assert.Equal(new double[] { -2, -2 }, xa.ToArray<double>());
        using var ax = Ops.MatMul(a, x); // matrix times column vector: (2, 2) · (2) -> (2)
        Assert.Equal(new double[] { -1, -1 }, ax.ToArray<double>());

        using var outer = Ops.Outer(u, x);
        Assert.Equal(new double[] { 1, -1, 2, -2, 3, -3 }, outer.ToArray<double>());
    }

    [Fact]
    public void MatrixProductGradients()
    {
        TestData.AssertGradients(x => Ops.MatMul(x[0], x[1]), [TestData.Param(1, 5, 7), TestData.Param(2, 7, 3)]);
        TestData.AssertGradients(x => Ops.MatMul(x[0], x[1]), [TestData.Param(3, 1, 4), TestData.Param(4, 4, 1)]);
    }

    [Theory]
    [InlineData(new[] { 2, 1, 4, 5 }, new[] { 3, 5, 6 }, new[] { 2, 3, 4, 6 })] // both sides broadcast
    [InlineData(new[] { 4, 5 }, new[] { 2, 3, 5, 6 }, new[] { 2, 3, 4, 6 })]    // a shared by the batch
    [InlineData(new[] { 2, 3, 4, 5 }, new[] { 5, 6 }, new[] { 2, 3, 4, 6 })]    // b shared: dB folds the batch into k
    [InlineData(new[] { 3, 4, 5 }, new[] { 1, 1, 5, 6 }, new[] { 1, 3, 4, 6 })] // b with size-1 batch dimensions
    [InlineData(new[] { 3, 2, 5 }, new[] { 3, 5, 4 }, new[] { 3, 2, 4 })]       // plain batch (Bmm)
    public void BatchedGradientsBroadcastTheBatchDimensions(int[] aShape, int[] bShape, int[] expected)
    {
        var a = TestData.Param(5, aShape);
        var b = TestData.Param(6, bShape);
        using (var y = Ops.MatMul(a, b)) Assert.Equal(new Shape(expected), y.Shape);
        TestData.AssertGradients(x => Ops.MatMul(x[0], x[1]), [a, b]);
    }

    [Theory]
    [InlineData(new[] { 6 }, new[] { 6 }, new int[0])]
    [InlineData(new[] { 6 }, new[] { 2, 6, 3 }, new[] { 2, 3 })]
    [InlineData(new[] { 2, 4, 6 }, new[] { 6 }, new[] { 2, 4 })]
    [InlineData(new[] { 6 }, new[] { 6, 3 }, new[] { 3 })]
    [InlineData(new[] { 4, 6 }, new[] { 6 }, new[] { 4 })]
    public void VectorOperandsFollowTorchMatmul(int[] aShape, int[] bShape, int[] expected)
    {
        var a = TestData.Param(7, aShape);
        var b = TestData.Param(8, bShape);
        using (var y = Ops.MatMul(a, b)) Assert.Equal(new Shape(expected), y.Shape);
        TestData.AssertGradients(x => Ops.MatMul(x[0], x[1]), [a, b]);
    }

    [Fact]
    public void TransposedAndStridedOperands()
    {
        // (7, 5)ᵀ · (7, 3): a transposed view on the left.
        TestData.AssertGradients(x => Ops.MatMul(Ops.Transpose(x[0], 0, 1), x[1]), [TestData.Param(9, 7, 5), TestData.Param(10, 7, 3)]);
        // Every other column of a (4, 10) times the transpose of a (3, 5).
        TestData.AssertGradients(x => Ops.MatMul(Ops.Slice(x[0], 1, 0, 10, 2), Ops.Transpose(x[1], 0, 1)),
            [TestData.Param(11, 4, 10), TestData.Param(12, 3, 5)]);
        // Attention scores: q · kᵀ over (batch, heads).
        TestData.AssertGradients(x => Ops.MatMul(x[0], Ops.Transpose(x[1], -1, -2)),
            [TestData.Param(13, 2, 2, 3, 4), TestData.Param(14, 2, 2, 5, 4)]);
        // A permuted batch that cannot be merged into one batch dimension, and a transposed shared weight.
        TestData.AssertGradients(x => Ops.MatMul(Ops.Permute(x[0], 1, 0, 2, 3), Ops.Transpose(x[1], 0, 1)),
            [TestData.Param(15, 3, 2, 2, 4), TestData.Param(16, 5, 4)]);
    }

    [Fact]
    public void MatMulMatchesTheReferenceBackend()
    {
        var a = TestData.Uniform(17, new Shape(2, 3, 9, 13), DType.F32);
        var b = TestData.Uniform(18, new Shape(3, 11, 13), DType.F32);
        TestData.AssertMatchesReference(x => Ops.MatMul(x[0], Ops.Transpose(x[1], -1, -2)), [a, b]);
    }

    [Fact]
    public void LinearGradientsWithAndWithoutBias()
    {
        TestData.AssertGradients(x => Ops.Linear(x[0], x[1], x[2]), [TestData.Param(20, 2, 3, 5), TestData.Param(21, 4, 5), TestData.Param(22, 4)]);
        TestData.AssertGradients(x => Ops.Linear(x[0], x[1]), [TestData.Param(23, 3, 5), TestData.Param(24, 4, 5)]);
        TestData.AssertGradients(x => Ops.Linear(x[0], x[1], x[2]), [TestData.Param(25, 5), TestData.Param(26, 4, 5), TestData.Param(27, 4)]);
        // A transposed input (its rows are not contiguous).
        TestData.AssertGradients(x => Ops.Linear(Ops.Transpose(x[0], 0, 1), x[1], x[2]),
            [TestData.Param(28, 5, 3), TestData.Param(29, 4, 5), TestData.Param(30, 4)]);
    }

    [Fact]
    public void LinearEqualsMatMulWithTheTransposedWeightPlusBias()
    {
        using var x = TestData.Uniform(31, new Shape(2, 3, 5));
        using var w = TestData.Uniform(32, new Shape(4, 5));
        using var b = TestData.Uniform(33, new Shape(4));
        using var y = Ops.Linear(x, w, b);
        using var wt = Ops.Transpose(w, 0, 1);
        using var xw = Ops.MatMul(x, wt);
        using var expected = Ops.Add(xw, b);
        TestData.AssertClose(expected, y, atol: 1e-12, rtol: 1e-12);
    }

    [Fact]
    public void FrozenWeightGetsNoGradientAndIsTheOnlyTensorSaved()
    {
        foreach (bool linear in new[] { false, true })
        {
            var x = TestData.Param(40, 3, 4);
            using var w = TestData.Uniform(41, new Shape(4, 4)); // frozen: no RequiresGrad
            using var g = TestData.Uniform(42, new Shape(3, 4));
            using var y = linear ? Ops.Linear(x, w) : Ops.MatMul(x, w);
            // x is not needed for dx, so it was not saved: changing it now does not break backward.
            using (GradMode.Disable()) Ops.MulInPlace(x, 2.0);
            y.Backward(g);
            Assert.Null(w.Grad);
            // dx = g · wᵀ for MatMul, g · w for Linear (whose w is used transposed).
            using var wUsed = linear ? w.Alias() : Ops.Transpose(w, 0, 1);
            using var expected = Ops.MatMul(g, wUsed);
            TestData.AssertClose(expected, x.Grad!, atol: 1e-12, rtol: 1e-12);
        }
    }

    [Fact]
    public void ChangingASavedOperandInPlaceIsReported()
    {
        var x = TestData.Param(43, 3, 4);
        var w = TestData.Uniform(44, new Shape(4, 2)); // frozen, but x needs it for dx
        using var y = Ops.MatMul(x, w);
        using var s = Ops.Sum(y);
        using (GradMode.Disable()) Ops.MulInPlace(w, 2.0);
        var e = Assert.Throws<InvalidOperationException>(() => s.Backward());
        Assert.Contains("modified in place", e.Message);
    }

    [Fact]
    public void FrozenInputSavesNothingForTheWeight()
    {
        using var x = TestData.Uniform(45, new Shape(2, 3, 4)); // frozen input
        var w = TestData.Param(46, 4, 5);
        using var y = Ops.MatMul(x, w);
        using var s = Ops.Sum(y);
        using (GradMode.Disable()) Ops.MulInPlace(w, 3.0); // w is not needed for dW = Σ xᵀ·g
        s.Backward();
        // d Σ(x·w) / dw[p, j] = Σ over batch and rows of x[.., p]
        using var expected = Ops.Sum(x, [0, 1]);
        var e = expected.ToArray<double>();
        var got = w.Grad!.ToArray<double>();
        for (int p = 0; p < 4; p++)
            for (int j = 0; j < 5; j++) Assert.Equal(e[p], got[p * 5 + j], 12);
    }

    [Fact]
    public void EmptyDimensionsGiveEmptyOrZeroResults()
    {
        using var a = Tensor.Full(new Shape(3, 0), 1, DType.F64);
        using var b = Tensor.Full(new Shape(0, 2), 1, DType.F64);
        using var c = Ops.MatMul(a, b); // an empty sum is 0
        Assert.Equal(new Shape(3, 2), c.Shape);
        Assert.All(c.ToArray<double>(), v => Assert.Equal(0, v));
        using var x = Tensor.Zeros(new Shape(0, 5));
        using var w = Tensor.Ones(new Shape(4, 5));
        using var bias = Tensor.Ones(new Shape(4));
        using var y = Ops.Linear(x, w, bias);
        Assert.Equal(new Shape(0, 4), y.Shape);
    }

    [Fact]
    public void MismatchedShapesAreClearErrors()
    {
        using var a = Tensor.Zeros(new Shape(2, 3), DType.F64);
        using var b = Tensor.Zeros(new Shape(4, 5), DType.F64);
        var e = Assert.Throws<ArgumentException>(() => Ops.MatMul(a, b));
        Assert.Contains("MatMul", e.Message);
        Assert.Contains("(2, 3)", e.Message);
        using var c = Tensor.Zeros(new Shape(2, 3, 4), DType.F64);
        using var d = Tensor.Zeros(new Shape(3, 4, 5), DType.F64);
        Assert.Throws<ArgumentException>(() => Ops.MatMul(c, d)); // batch 2 vs 3
        using var f = Tensor.Zeros(new Shape(3, 4), DType.F32);
        Assert.Throws<ArgumentException>(() => Ops.MatMul(a, f));  // dtypes differ
        Assert.Throws<ArgumentException>(() => Ops.Linear(a, b));  // 3 features vs weight (4, 5)
    }
}
