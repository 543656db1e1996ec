namespace PeftEngine.Tests;

public class NnKernelTests
{
    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void SoftmaxAndLogSoftmaxMatchReference(DType dtype)
    {
        double tol = dtype == DType.F32 ? 2e-6 : 1e-12;
        var x = TestData.Uniform(7, new Shape(3, 2, 21), dtype, -5, 5);
        GpuParity.CheckGradients([x], t => Ops.Softmax(t[0]), tol, tol);
        GpuParity.CheckGradients([x], t => Ops.LogSoftmax(t[0]), tol, tol);
        x.Dispose();
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void LayerNormAndRmsNormMatchReference(DType dtype)
    {
        double tol = dtype == DType.F32 ? 1e-5 : 1e-11;
        var x = TestData.Uniform(8, new Shape(4, 3, 19), dtype, -2, 2);
        var w = TestData.Uniform(9, new Shape(19), dtype, 0.5, 1.5);
        var b = TestData.Uniform(10, new Shape(19), dtype);
        GpuParity.CheckGradients([x, w, b], t => Ops.LayerNorm(t[0], null, t[1], t[2]), tol, tol);
        GpuParity.CheckGradients([x, w], t => Ops.RmsNorm(t[0], t[1]), tol, tol);
        GpuParity.CheckGradients([x], t => Ops.LayerNorm(t[0]), tol, tol);
        x.Dispose();
        w.Dispose();
        b.Dispose();
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void CrossEntropyMatchesReference(DType dtype)
    {
        double tol = dtype == DType.F32 ? 2e-6 : 1e-12;
        var logits = TestData.Uniform(11, new Shape(6, 13), dtype, -4, 4);
        using var targets = Tensor.FromArray(new long[] { 0, 12, -100, 5, 5, 7 });
        GpuParity.CheckGradients([logits], t =>
        {
            using var tg = targets.To(t[0].Device);
            using var loss = Ops.CrossEntropy(t[0], tg, labelSmoothing: 0.1);
            return Ops.Reshape(loss, 1);
        }, tol, tol);
        using var bad = Tensor.FromArray(new long[] { 0, 13, 0, 0, 0, 0 });
        using var lg = logits.To(GpuParity.Device);
        using var bg = bad.To(GpuParity.Device);
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.CrossEntropy(lg, bg));
        logits.Dispose();
    }

    [Fact]
    public void EmbeddingForwardAndBackwardMatchReference()
    {
        var w = TestData.Uniform(12, new Shape(7, 5), DType.F32);
        using var ids = Tensor.FromArray(new long[] { 3, 0, 3, 6, 3 });
        GpuParity.CheckGradients([w], t =>
        {
            using var i = ids.To(t[0].Device);
            return Ops.Embedding(t[0], i);
        }, 1e-6, 1e-6);
        w.Dispose();
    }

    [Theory]
    [InlineData(RopeStyle.RotateHalf)]
    [InlineData(RopeStyle.Interleaved)]
    public void RotaryMatchesReference(RopeStyle style)
    {
        // (B, H, T, D) = (2, 2, 3, 6) rotating the first 4 features; tables for 8 positions, offset 2.
        var x = TestData.Uniform(13, new Shape(2, 2, 3, 6), DType.F64);
        var angles = TestData.Uniform(14, new Shape(8, 2), DType.F64, -3, 3);
        using var cos = Ops.Cos(angles);
        using var sin = Ops.Sin(angles);
        GpuParity.CheckGradients([x], t =>
        {
            using var c = cos.To(t[0].Device);
            using var s = sin.To(t[0].Device);
            return Ops.ApplyRotary(t[0], c, s, 2, style);
        }, 1e-12, 1e-12);
        x.Dispose();
        angles.Dispose();
    }
}
