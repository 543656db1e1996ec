namespace PeftEngine.Tests;

public class ViewTests
{
    private static Tensor Iota(params int[] shape)
    {
        var n = new Shape(shape).Numel;
        return Tensor.FromArray(Enumerable.Range(0, (int)n).Select(i => (double)i).ToArray(), shape);
    }

    [Fact]
    public void TransposeIsAViewWithSwappedStrides()
    {
        using var x = Iota(2, 3);
        using var t = x.Transpose(0, 1);
        Assert.Same(x.Storage, t.Storage);
        Assert.Equal(new Shape(3, 2), t.Shape);
        Assert.False(t.IsContiguous);
        Assert.Equal(new double[] { 0, 3, 1, 4, 2, 5 }, t.ToArray<double>());
    }

    [Fact]
    public void ReshapeOfANonContiguousViewCopiesOnlyWhenNeeded()
    {
        using var x = Iota(2, 3, 4);
        using var p = x.Permute(1, 0, 2);          // (3, 2, 4), last dim still contiguous
        using var merged = Ops.Reshape(p, 3, 8);    // needs a copy: dims 0,1 are not back to back
        Assert.NotSame(x.Storage, merged.Storage);
        using var split = Ops.Reshape(p, 3, 2, 2, 2); // splitting the contiguous last dim stays a view
        Assert.Same(x.Storage, split.Storage);
        Assert.Equal(p.ToArray<double>(), split.ToArray<double>());
        Assert.Throws<InvalidOperationException>(() => Ops.View(p, 3, 8));
    }

    [Fact]
    public void SliceWithStepAndSelect()
    {
        using var x = Iota(4, 5);
        using var s = Ops.Slice(x, 1, 1, 5, 2);      // columns 1, 3
        Assert.Equal(new double[] { 1, 3, 6, 8, 11, 13, 16, 18 }, s.ToArray<double>());
        using var r = Ops.Select(x, 0, -1);
        Assert.Equal(new double[] { 15, 16, 17, 18, 19 }, r.ToArray<double>());
        using var n = Ops.Narrow(x, 0, 1, 2);
        Assert.Equal(new Shape(2, 5), n.Shape);
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Narrow(x, 0, 3, 2));
    }

    [Fact]
    public void ExpandBroadcastsWithZeroStride()
    {
        using var x = Iota(3, 1);
        using var e = Ops.Expand(x, 2, 3, 4);
        Assert.Equal(new long[] { 0, 1, 0 }, e.StridesArray());
        Assert.Equal(24, e.ToArray<double>().Length);
        Assert.Throws<ArgumentException>(() => Ops.Expand(x, 2, 2));
    }

    [Fact]
    public void MovementGradients()
    {
        var a = TestData.Param(1, 2, 3, 4);
        TestData.AssertGradients(x => Ops.Permute(x[0], 2, 0, 1) * 1.5, [a]);
        TestData.AssertGradients(x => Ops.Reshape(Ops.Transpose(x[0], 0, 2), 12, 2), [a]);
        TestData.AssertGradients(x => Ops.Slice(x[0], 2, 0, 4, 3), [a]);
        TestData.AssertGradients(x => Ops.Select(x[0], 1, 1), [a]);
        TestData.AssertGradients(x => Ops.Unsqueeze(Ops.Squeeze(Ops.Narrow(x[0], 0, 1, 1)), 0), [a]);
        var b = TestData.Param(2, 3, 1);
        TestData.AssertGradients(x => Ops.Expand(x[0], 2, 3, 5), [b]);
    }

    [Fact]
    public void ShapeErrorsNameTheShapes()
    {
        using var x = Iota(2, 3);
        var ex = Assert.Throws<ArgumentException>(() => Ops.Reshape(x, 4, 2));
        Assert.Contains("(2, 3)", ex.Message);
        using var y = Iota(4);
        var ex2 = Assert.Throws<ArgumentException>(() => x + y);
        Assert.Contains("(4,)", ex2.Message);
    }
}
