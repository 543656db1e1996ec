namespace PeftEngine.Tests;

public class FormatTests
{
    [Fact]
    public void SmallMatrixPrintsAllValuesAlignedWithItsMetadata()
    {
        using var t = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 2, 2);
        Assert.Equal("tensor([[1., 2.],\n        [3., 4.]], shape=(2, 2), dtype=f32, device=cpu)", t.ToString());
    }

    [Fact]
    public void FractionsUseFourDecimalsPaddedToACommonWidth()
    {
        using var t = Tensor.FromArray(new double[] { 0.5, -1.25, 3.14159 });
        Assert.Equal("tensor([ 0.5000, -1.2500,  3.1416], shape=(3,), dtype=f64, device=cpu)", t.ToString());
    }

    [Fact]
    public void WideMagnitudesSwitchToScientific()
    {
        using var t = Tensor.FromArray(new float[] { 1e-5f, 1f });
        Assert.Equal("tensor([1.0000e-05, 1.0000e+00], shape=(2,), dtype=f32, device=cpu)", t.ToString());
    }

    [Fact]
    public void IntegersNanAndInfinity()
    {
        using var i = Tensor.FromArray(new long[] { 1, -20, 300 });
        Assert.Equal("tensor([  1, -20, 300], shape=(3,), dtype=i64, device=cpu)", i.ToString());
        using var f = Tensor.FromArray(new float[] { float.NaN, float.PositiveInfinity, -1.5f });
        Assert.Equal("tensor([    nan,     inf, -1.5000], shape=(3,), dtype=f32, device=cpu)", f.ToString());
    }

    [Fact]
    public void ScalarsAndEmptyTensors()
    {
        using var s = Tensor.Scalar(2.5);
        Assert.Equal("tensor(2.5000, shape=(), dtype=f32, device=cpu)", s.ToString());
        using var e = Tensor.Zeros(new Shape(0, 3));
        Assert.Equal("tensor([], shape=(0, 3), dtype=f32, device=cpu)", e.ToString());
    }

    [Fact]
    public void AutogradStateIsShown()
    {
        using var w = Tensor.FromArray(new double[] { 1, 2 }).RequireGrad();
        Assert.EndsWith("dtype=f64, device=cpu, requires_grad=true)", w.ToString());
        using var y = w * w;
        Assert.EndsWith("device=cpu, grad_fn=Mul)", y.ToString());
    }

    [Fact]
    public void ThreeDimensionsSeparateSlabsWithABlankLine()
    {
        using var t = Tensor.FromArray(new[] { 0, 1, 2, 3, 4, 5, 6, 7 }, 2, 2, 2);
        Assert.Equal(
            "tensor([[[0, 1],\n" +
            "         [2, 3]],\n" +
            "\n" +
            "        [[4, 5],\n" +
            "         [6, 7]]], shape=(2, 2, 2), dtype=i32, device=cpu)", t.ToString());
    }

    [Fact]
    public void LargeTensorsAreSummarisedWithEdgeItems()
    {
        using var v = Tensor.FromArray(Enumerable.Range(0, 2000).Select(i => (float)i).ToArray());
        Assert.Equal("tensor([   0.,    1.,    2., ..., 1997., 1998., 1999.], shape=(2000,), dtype=f32, device=cpu)", v.ToString());

        using var m = Tensor.FromArray(Enumerable.Range(0, 2000).Select(i => (double)i).ToArray(), 40, 50);
        var lines = m.ToString().Split('\n');
        Assert.Equal(7, lines.Length);
        Assert.Equal("tensor([[   0.,    1.,    2., ...,   47.,   48.,   49.],", lines[0]);
        Assert.Equal("        ...,", lines[3]);
        Assert.StartsWith("        [1950., 1951., 1952., ..., 1997., 1998., 1999.]]", lines[6]);
        // Below the threshold nothing is left out.
        Assert.DoesNotContain("...", m.ToString(threshold: 5000));
    }

    [Fact]
    public void LongRowsWrapAtEightyColumns()
    {
        using var v = Tensor.FromArray(Enumerable.Range(0, 30).Select(i => i + 0.5).ToArray());
        var lines = v.ToString().Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.All(lines.SkipLast(1), l => Assert.True(l.Length <= 80, l));
        Assert.StartsWith("        ", lines[1]);
    }

    [Fact]
    public void ViewsPrintInLogicalOrderAndStorageTypesAsValues()
    {
        using var t = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        using var tt = t.Transpose(0, 1);
        Assert.StartsWith("tensor([[1., 4.],\n        [2., 5.],\n        [3., 6.]]", tt.ToString());
        using var b = t.To(DType.BF16);
        Assert.Equal("tensor([[1., 2., 3.],\n        [4., 5., 6.]], shape=(2, 3), dtype=bf16, device=cpu)", b.ToString());
    }

    [Fact]
    public void ADisposedTensorPrintsWithoutThrowing()
    {
        var t = Tensor.Ones(new Shape(2));
        t.Dispose();
        Assert.Equal("tensor(<disposed>, shape=(2,), dtype=f32, device=cpu)", t.ToString());
    }
}
