namespace PeftEngine.Tests;

/// <summary>
/// A BF16 or F16 GEMM operand is widened inside the kernel's tile load, with no F32 copy: the result must be
/// bit-identical to the F32 GEMM of the operand widened beforehand (same products, same order).
/// </summary>
public class GemmMixedPrecisionTests
{
    [Theory]
    [InlineData(DType.BF16)]
    [InlineData(DType.F16)]
    public void SixteenBitOperandEqualsTheF32GemmOfTheWidenedOperandExactly(DType half)
    {
        var dev = GpuParity.Device;
        var backend = GpuParity.Backend;
        // sizes that are not multiples of the tile (16 here, 64 on a GPU) nor of the k slice (8)
        int batch = 2, m = 19, n = 21, k = 13;
        using var x = TestData.Uniform(60, new Shape(batch, m, k), DType.F32, device: dev);
        using var xt = TestData.Uniform(61, new Shape(batch, k, m), DType.F32, device: dev);
        using var w = TestData.Uniform(62, new Shape(1, n, k), half, -3, 3, device: dev);      // a weight (n, k), broadcast over the batch
        using var wk = TestData.Uniform(63, new Shape(1, k, n), half, -3, 3, device: dev);     // the same as (k, n)
        using var wWide = Ops.Cast(w, DType.F32);
        using var wkWide = Ops.Cast(wk, DType.F32);
        using var bias = TestData.Uniform(64, new Shape(n), DType.F32, device: dev);
        using var wB = Ops.Expand(w, batch, n, k);      // batch stride 0
        using var wkB = Ops.Expand(wk, batch, k, n);
        using var wWideB = Ops.Expand(wWide, batch, n, k);
        using var wkWideB = Ops.Expand(wkWide, batch, k, n);
        foreach (bool transA in new[] { false, true })
            foreach (bool transB in new[] { false, true })
            {
                var a = transA ? xt : x;
                // 16-bit second operand: x · wᵀ (a Linear layer) and x · w
                var mixed = Run(backend, a, transB ? wB : wkB, transA, transB, bias);
                var wide = Run(backend, a, transB ? wWideB : wkWideB, transA, transB, bias);
                Assert.Equal(wide, mixed);
                Assert.Contains(wide, v => v != 0);
            }
        // 16-bit first operand: (m, k) and its transpose, times an f32 (k, n)
        using var w16 = TestData.Uniform(65, new Shape(1, m, k), half, device: dev);
        using var w16t = Ops.Transpose(w16, 1, 2);                 // (1, k, m), a strided view
        using var w16Wide = Ops.Cast(w16, DType.F32);
        using var w16tWide = Ops.Transpose(w16Wide, 1, 2);
        using var y = TestData.Uniform(66, new Shape(1, k, n), DType.F32, device: dev);
        Assert.Equal(Run(backend, w16Wide, y, false, false, null), Run(backend, w16, y, false, false, null));
        Assert.Equal(Run(backend, w16tWide, y, true, false, null), Run(backend, w16t, y, true, false, null));
    }

    private static float[] Run(IBackend backend, Tensor a, Tensor b, bool transA, bool transB, Tensor? bias)
    {
        int batch = Math.Max(a.Shape[0], b.Shape[0]);
        int m = transA ? a.Shape[2] : a.Shape[1], n = transB ? b.Shape[1] : b.Shape[2];
        using var c = Tensor.Empty(new Shape(batch, m, n), DType.F32, a.Device);
        backend.Gemm(a, b, c, transA, transB, alpha: 1.5, beta: 0, bias: bias);
        return c.ToArray<float>();
    }

    [Fact]
    public void SixteenBitOperandWithAnF64OutputIsRefused()
    {
        var dev = GpuParity.Device;
        using var a = TestData.Uniform(67, new Shape(1, 2, 3), DType.BF16, device: dev);
        using var b = TestData.Uniform(68, new Shape(1, 3, 2), DType.F64, device: dev);
        using var c = Tensor.Empty(new Shape(1, 2, 2), DType.F64, dev);
        var e = Assert.Throws<ArgumentException>(() => GpuParity.Backend.Gemm(a, b, c, false, false));
        Assert.Contains("bf16", e.Message, StringComparison.OrdinalIgnoreCase);
    }
}
