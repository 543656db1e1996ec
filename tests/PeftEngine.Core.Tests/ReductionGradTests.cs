namespace PeftEngine.Tests;

/// <summary>Float64 finite-difference checks of every reduction's backward, plus hand-computed gradients for
/// the cases finite differences cannot see (ties, zeros).</summary>
public class ReductionGradTests
{
    private static readonly int[] Dims = [0, 1, 2, -1];

    [Fact]
    public void MaxAndMinOverEachDimension()
    {
        var a = TestData.Param(1, 3, 4, 5);
        foreach (int d in Dims)
            foreach (bool keep in new[] { false, true })
            {
                TestData.AssertGradients(x => Ops.Max(x[0], d, keep).Values, [a]);
                TestData.AssertGradients(x => Ops.Min(x[0], d, keep).Values * 2.0, [a]);
            }
    }

    [Fact]
    public void MaxAndMinOfTransposedAndSlicedInputs()
    {
        var a = TestData.Param(2, 5, 7);
        TestData.AssertGradients(x => Ops.Max(Ops.Transpose(x[0], 0, 1), 1).Values, [a]);
        TestData.AssertGradients(x => Ops.Min(Ops.Slice(x[0], 1, 1, 7, 2), 0, keepDim: true).Values, [a]);
        TestData.AssertGradients(x => Ops.Max(Ops.Transpose(x[0], 0, 1)), [a]);
        TestData.AssertGradients(x => Ops.Min(Ops.Slice(x[0], 0, 1, 4)), [a]);
    }

    [Fact]
    public void MaxGradientGoesToTheFirstTiedElement()
    {
        var a = Tensor.FromArray(new double[] { 1, 3, 3, 2, 0, 0 }, 2, 3).RequireGrad();
        using (var r = Ops.Max(a, 1))
        {
            Assert.Equal(new long[] { 1, 0 }, r.Indices.ToArray<long>());
            using var s = Ops.Sum(r.Values);
            s.Backward();
        }
        Assert.Equal(new double[] { 0, 1, 0, 1, 0, 0 }, a.Grad!.ToArray<double>());
        a.ZeroGrad();
        using (var m = Ops.Max(a)) m.Backward();
        Assert.Equal(new double[] { 0, 1, 0, 0, 0, 0 }, a.Grad!.ToArray<double>());
        a.ZeroGrad();
        using (var m = Ops.Min(a)) m.Backward();
        Assert.Equal(new double[] { 0, 0, 0, 0, 1, 0 }, a.Grad!.ToArray<double>());
    }

    [Fact]
    public void ProdOverDimensionsAndAll()
    {
        var a = TestData.Param(3, 3, 4, 5);
        foreach (int d in Dims)
            foreach (bool keep in new[] { false, true })
                TestData.AssertGradients(x => Ops.Prod(x[0], d, keep), [a]);
        var b = TestData.Param(4, 2, 5);
        TestData.AssertGradients(x => Ops.Prod(x[0]), [b]);
        TestData.AssertGradients(x => Ops.Prod(Ops.Transpose(x[0], 0, 1), 1), [b]);
    }

    [Fact]
    public void ProdGradientIsExactWithZeros()
    {
        // One zero in a row: only the zero gets a gradient (the product of the others). Two zeros: none.
        var a = Tensor.FromArray(new double[] { 2, 0, 3, 0, 5, 0 }, 2, 3).RequireGrad();
        TestData.AssertGradients(x => Ops.Prod(x[0], 1), [a]);
        a.ZeroGrad();
        using (var p = Ops.Prod(a, 1))
        using (var s = Ops.Sum(p))
            s.Backward();
        Assert.Equal(new double[] { 0, 6, 0, 0, 0, 0 }, a.Grad!.ToArray<double>());
    }

    [Fact]
    public void LogSumExpOverDimensionsAndAll()
    {
        var a = TestData.Param(5, 3, 4, 5);
        foreach (int d in Dims)
            foreach (bool keep in new[] { false, true })
                TestData.AssertGradients(x => Ops.LogSumExp(x[0], d, keep), [a]);
        TestData.AssertGradients(x => Ops.LogSumExp(x[0], [0, 2], keepDim: true), [a]);
        TestData.AssertGradients(x => Ops.LogSumExp(x[0], null), [a]);
        TestData.AssertGradients(x => Ops.LogSumExp(Ops.Transpose(x[0], 0, 2), 1), [a]);
    }

    [Fact]
    public void LogSumExpIsStableForLargeValues()
    {
        using var x = Tensor.FromArray(new double[] { 1000, 1000, -1000, -1000 }, 2, 2);
        using var y = Ops.LogSumExp(x, 1);
        TestData.AssertClose([1000 + Math.Log(2), -1000 + Math.Log(2)], y.ToArray<double>(), 1e-9, 1e-12);
        // The gradient is the softmax: 1/2 each.
        var p = Tensor.FromArray(new double[] { 800, 800 }).RequireGrad();
        using (var l = Ops.LogSumExp(p, 0)) l.Backward();
        TestData.AssertClose([0.5, 0.5], p.Grad!.ToArray<double>(), 1e-12, 1e-12);
    }

    [Fact]
    public void VarianceAndStandardDeviation()
    {
        var a = TestData.Param(6, 3, 4, 5);
        foreach (int d in Dims)
            foreach (bool keep in new[] { false, true })
            {
                TestData.AssertGradients(x => Ops.Var(x[0], d, keep), [a]);
                TestData.AssertGradients(x => Ops.Std(x[0], d, keep), [a]);
            }
        foreach (double c in new[] { 0.0, 1.0, 2.0 })
        {
            TestData.AssertGradients(x => Ops.Var(x[0], [0, 2], keepDim: false, correction: c), [a]);
            TestData.AssertGradients(x => Ops.Std(x[0], [1, 2], keepDim: true, correction: c), [a]);
        }
        TestData.AssertGradients(x => Ops.Var(x[0]), [a]);
        TestData.AssertGradients(x => Ops.Std(Ops.Transpose(x[0], 0, 2), 0), [a]);
        TestData.AssertGradients(x => Ops.Var(Ops.Slice(x[0], 2, 0, 5, 2), -1), [a]);
    }

    [Fact]
    public void VarianceValuesFollowTheCorrection()
    {
        using var x = Tensor.FromArray(new double[] { 1, 2, 3, 4 });
        using (var v = Ops.Var(x)) Assert.Equal(5.0 / 3, v.Item(), 12);
        using (var v = Ops.Var(x, 0, correction: 0)) Assert.Equal(1.25, v.Item(), 12);
        using (var s = Ops.Std(x, 0, correction: 0)) Assert.Equal(Math.Sqrt(1.25), s.Item(), 12);
        using var one = Tensor.FromArray(new double[] { 7 });
        using (var v = Ops.Var(one)) Assert.True(double.IsNaN(v.Item())); // 0 / 0, as in PyTorch
    }

    [Fact]
    public void StdOfAConstantSliceHasZeroGradient()
    {
        var a = Tensor.FromArray(new double[] { 2, 2, 2, 1, 2, 4 }, 2, 3).RequireGrad();
        using (var s = Ops.Std(a, 1))
        {
            Assert.Equal(0.0, s.ToArray<double>()[0]);
            using var t = Ops.Sum(s);
            t.Backward();
        }
        var g = a.Grad!.ToArray<double>();
        Assert.Equal(new double[] { 0, 0, 0 }, g[..3]);
        Assert.All(g[3..], v => Assert.True(double.IsFinite(v) && v != 0));
    }

    [Fact]
    public void NormsOverDimensionsAndAll()
    {
        var a = TestData.Param(7, 3, 4, 5);
        foreach (double p in new[] { 1.0, 2.0, 3.0, 1.5, double.PositiveInfinity })
        {
            TestData.AssertGradients(x => Ops.Norm(x[0], p), [a]);
            TestData.AssertGradients(x => Ops.Norm(x[0], p, 1), [a]);
            TestData.AssertGradients(x => Ops.Norm(x[0], p, [0, 2], keepDim: true), [a]);
            TestData.AssertGradients(x => Ops.Norm(Ops.Transpose(x[0], 1, 2), p, -1), [a]);
        }
    }

    [Fact]
    public void NormValuesAndZeroGradientAtZero()
    {
        using var x = Tensor.FromArray(new double[] { 3, -4 });
        using (var n = Ops.Norm(x)) Assert.Equal(5.0, n.Item(), 12);
        using (var n = Ops.Norm(x, 1)) Assert.Equal(7.0, n.Item(), 12);
        using (var n = Ops.Norm(x, double.PositiveInfinity)) Assert.Equal(4.0, n.Item(), 12);
        using (var n = Ops.Norm(x, 3)) Assert.Equal(Math.Pow(91, 1.0 / 3), n.Item(), 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Norm(x, 0.5));

        var z = Tensor.FromArray(new double[] { 0, 0, 1, 2 }, 2, 2).RequireGrad();
        foreach (double p in new[] { 2.0, 3.0 })
        {
            z.ZeroGrad();
            using (var n = Ops.Norm(z, p, 1))
            using (var s = Ops.Sum(n))
                s.Backward();
            var g = z.Grad!.ToArray<double>();
            Assert.Equal(new double[] { 0, 0 }, g[..2]);
            Assert.All(g[2..], v => Assert.True(double.IsFinite(v) && v > 0));
        }
    }

    [Fact]
    public void CumSumAlongEachDimension()
    {
        var a = TestData.Param(8, 3, 4, 5);
        foreach (int d in Dims)
            TestData.AssertGradients(x => Ops.CumSum(x[0], d), [a]);
        TestData.AssertGradients(x => Ops.CumSum(Ops.Transpose(x[0], 0, 2), 1), [a]);
        using var v = Tensor.FromArray(new double[] { 1, 2, 3, 4 });
        using var c = Ops.CumSum(v, 0);
        Assert.Equal(new double[] { 1, 3, 6, 10 }, c.ToArray<double>());
    }

    [Fact]
    public void SortAndTopK()
    {
        var a = TestData.Param(9, 3, 4, 7);
        foreach (int d in Dims)
            foreach (bool desc in new[] { false, true })
            {
                TestData.AssertGradients(x => Ops.Sort(x[0], d, desc).Values, [a]);
                TestData.AssertGradients(x => Ops.TopK(x[0], 2, d, largest: desc).Values, [a]);
            }
        TestData.AssertGradients(x => Ops.TopK(Ops.Transpose(x[0], 0, 2), 1, 1).Values, [a]);
        TestData.AssertGradients(x => Ops.Sort(Ops.Slice(x[0], 2, 1, 7, 2), 2, descending: true).Values, [a]);
    }

    [Fact]
    public void TopKGradientReachesOnlyThePickedElements()
    {
        var a = Tensor.FromArray(new double[] { 5, 1, 4, 1, 5, 9 }).RequireGrad();
        using (var r = Ops.TopK(a, 3))
        {
            Assert.Equal(new double[] { 9, 5, 5 }, r.Values.ToArray<double>());
            Assert.Equal(new long[] { 5, 0, 4 }, r.Indices.ToArray<long>());
            using var w = Tensor.FromArray(new double[] { 1, 2, 3 });
            using var s = Ops.Sum(r.Values * w);
            s.Backward();
        }
        Assert.Equal(new double[] { 2, 0, 0, 0, 3, 1 }, a.Grad!.ToArray<double>());
    }

    [Fact]
    public void ArgReductionsAndArgSortDoNotRecord()
    {
        var a = TestData.Param(10, 4, 6);
        using var i = Ops.ArgMax(a, 1);
        using var j = Ops.ArgSort(a);
        using var k = Ops.ArgMin(a);
        Assert.Equal(DType.I64, i.DType);
        Assert.Equal(new Shape(4), i.Shape);
        Assert.Equal(new Shape(4, 6), j.Shape);
        Assert.Equal(new Shape(), k.Shape);
        Assert.False(i.RequiresGrad || j.RequiresGrad || k.RequiresGrad);
    }
}
