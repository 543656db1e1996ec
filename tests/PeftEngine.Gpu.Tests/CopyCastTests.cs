namespace PeftEngine.Tests;

public class CopyCastTests
{
    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    [InlineData(DType.BF16)]
    [InlineData(DType.I64)]
    public void StridedCopiesMatchReference(DType dtype)
    {
        var x = TestData.Uniform(1, new Shape(4, 5, 3), DType.F64, -50, 50);
        using var cx = x.To(dtype);
        GpuParity.Check([cx], t => new[]
        {
            Ops.Contiguous(Ops.Transpose(t[0], 0, 2)),                       // permuted
            Ops.Contiguous(Ops.Slice(Ops.Slice(t[0], 1, 1, 5, 2), 2, 0, 3, 2)), // stepped slices
            Ops.Contiguous(Ops.Expand(Ops.Slice(t[0], 0, 1, 2), 3, 5, 3)),     // broadcast (stride 0)
        }, 0, 0);
        x.Dispose();
    }

    [Fact]
    public void CastsBetweenAllDTypesMatchReference()
    {
        // Values with ties for bf16 and f16 rounding, subnormal halves, out-of-range halves and negatives.
        var v = new double[] { 0, -0.0, 1, -2.5, 3.999, 1 + 1.0 / 256, 1 + 3.0 / 256, 1 + 1.0 / 2048, 6e-8, 3e-5, 60000, -3e4, 250.7, 12.5 };
        using var x = Tensor.FromArray(v);
        var floats = new[] { DType.F32, DType.F64, DType.BF16, DType.F16 };
        foreach (var from in floats)
            foreach (var to in new[] { DType.F32, DType.F64, DType.BF16, DType.F16, DType.I32, DType.I64 })
            {
                using var src = x.To(from);
                GpuParity.Check([src], t => Ops.Cast(t[0], to), 0, 0);
            }
        // Beyond the f16 range: infinities (and no integer targets, which would overflow).
        using var big = Tensor.FromArray(new double[] { 70000, -1e6, 65519, 65520 });
        foreach (var to in floats) GpuParity.Check([big], t => Ops.Cast(t[0], to), 0, 0);
        using var bytes = Tensor.FromArray(new byte[] { 0, 1, 200 });
        GpuParity.Check([bytes], t => new[] { Ops.Cast(t[0], DType.F32), Ops.Cast(t[0], DType.I64) }, 0, 0);
    }

    [Fact]
    public void FillWritesStridedViews()
    {
        using var x = Tensor.Zeros(new Shape(3, 4), DType.F32, GpuParity.Device);
        using (var col = Ops.Slice(x, 1, 1, 4, 2)) GpuParity.Backend.Fill(col, 7);
        Assert.Equal(new float[] { 0, 7, 0, 7, 0, 7, 0, 7, 0, 7, 0, 7 }, x.ToArray<float>());
        using var h = Tensor.Full(new Shape(2), 1.5, DType.F16, GpuParity.Device);
        Assert.Equal(new[] { (Half)1.5, (Half)1.5 }, h.ToArray<Half>());
    }
}
