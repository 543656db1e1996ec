using PeftEngine.Gpu;
using PeftEngine.Gpu.Kernels;

namespace PeftEngine.Tests;

/// <summary>
/// The tiled attention kernels against the reference backend, with sequence lengths that are not multiples of
/// the tile (so the last query and key tiles are partial), grouped-query heads, causal, additive and padding
/// masks, and a key/value cache alignment (T &lt; S); the untiled fallback for wide heads; determinism.
/// </summary>
public class FlashAttentionTests
{
    private static int Rows => GpuParity.Backend.AttentionRows;

    [Theory]
    [InlineData(DType.F32, false, false)]
    [InlineData(DType.F32, true, true)]
    [InlineData(DType.F64, true, false)]
    [InlineData(DType.F64, false, true)]
    public void TiledForwardAndBackwardMatchReferenceAcrossPartialTiles(DType dtype, bool causal, bool withMask)
    {
        double tol = dtype == DType.F32 ? 2e-5 : 1e-11;
        // Three tiles of queries and keys, the last partial (T = 19, S = 21 over the CPU accelerator's 8-row tiles);
        // 4 query heads share 2 key/value heads.
        int t = 2 * Rows + 3, s = 2 * Rows + 5;
        var q = TestData.Uniform(70, new Shape(2, 4, t, 5), dtype, -2, 2);
        var k = TestData.Uniform(71, new Shape(2, 2, s, 5), dtype, -2, 2);
        var v = TestData.Uniform(72, new Shape(2, 2, s, 3), dtype);
        var mask = TestData.Uniform(73, new Shape(2, 1, t, s), dtype);
        GpuParity.CheckGradients([q, k, v], x =>
        {
            using var m = withMask ? mask.To(x[0].Device) : null;
            return Ops.ScaledDotProductAttention(x[0], x[1], x[2], m, causal);
        }, tol, tol);
        foreach (var x in new[] { q, k, v, mask }) x.Dispose();
    }

    [Fact]
    public void CausalWithCacheAlignmentAndPaddingMaskMatchReference()
    {
        // T new queries are the last T of S positions (11 of 26 over 8-row tiles); batch 1 pads its last 5 keys.
        int t = Rows + 3, s = 3 * Rows + 2;
        var q = TestData.Uniform(74, new Shape(2, 2, t, 7), DType.F64, -2, 2);
        var k = TestData.Uniform(75, new Shape(2, 1, s, 7), DType.F64, -2, 2);
        var v = TestData.Uniform(76, new Shape(2, 1, s, 6), DType.F64);
        var valid = new long[2 * s];
        for (int j = 0; j < s; j++) { valid[j] = 1; valid[s + j] = j < s - 5 ? 1 : 0; }
        using var ids = Tensor.FromArray(valid, 2, s);
        using var padding = Ops.PaddingMask(ids, DType.F64);   // (B, 1, 1, S), -inf on padded keys
        GpuParity.CheckGradients([q, k, v], x =>
        {
            using var m = padding.To(x[0].Device);
            return Ops.ScaledDotProductAttention(x[0], x[1], x[2], m, isCausal: true);
        }, 1e-11, 1e-11);
        foreach (var x in new[] { q, k, v }) x.Dispose();
    }

    [Fact]
    public void HeadsWiderThanTheTiledLimitUseTheUntiledKernelsAndMatchReference()
    {
        int d = FlashAttentionKernels.MaxHead + 3;
        Assert.False(GpuBackend.AttentionIsTiled(d, 4));
        Assert.True(GpuBackend.AttentionIsTiled(FlashAttentionKernels.MaxHead, FlashAttentionKernels.MaxHead));
        var q = TestData.Uniform(77, new Shape(1, 2, 3, d), DType.F64, -0.3, 0.3);
        var k = TestData.Uniform(78, new Shape(1, 2, 4, d), DType.F64, -0.3, 0.3);
        var v = TestData.Uniform(79, new Shape(1, 2, 4, 4), DType.F64);
        GpuParity.CheckGradients([q, k, v], x => Ops.ScaledDotProductAttention(x[0], x[1], x[2], null, isCausal: true), 1e-11, 1e-11);
        foreach (var x in new[] { q, k, v }) x.Dispose();
    }

    /// <summary>The backend call itself with only some gradients asked for (the others null): each asked one
    /// (pre-filled with garbage) equals the reference's, and a second run gives bit-identical gradients.</summary>
    [Theory]
    [InlineData(true, false, false)]
    [InlineData(false, true, false)]
    [InlineData(false, false, true)]
    [InlineData(true, true, true)]
    public void BackwardComputesOnlyTheRequestedGradientsDeterministically(bool wantQ, bool wantK, bool wantV)
    {
        var dev = GpuParity.Device;
        int b = 1, h = 2, hkv = 1, t = Rows + 5, s = Rows + 5, d = 4, dv = 3;
        using var q = TestData.Uniform(80, new Shape(b, h, t, d), DType.F32, -2, 2);
        using var k = TestData.Uniform(81, new Shape(b, hkv, s, d), DType.F32, -2, 2);
        using var v = TestData.Uniform(82, new Shape(b, hkv, s, dv), DType.F32);
        using var g = TestData.Uniform(83, new Shape(b, h, t, dv), DType.F32);
        double scale = 0.7;

        (Tensor? dq, Tensor? dk, Tensor? dv) Run(Device device)
        {
            var backend = BackendRegistry.Get(device);
            using var qd = q.To(device);
            using var kd = k.To(device);
            using var vd = v.To(device);
            using var gd = g.To(device);
            using var o = Tensor.Empty(new Shape(b, h, t, dv), DType.F32, device);
            using var lse = Tensor.Empty(new Shape(b, h, t), DType.F32, device);
            backend.AttentionForward(qd, kd, vd, null, true, scale, o, lse);
            Tensor? Grad(bool want, Shape shape) => want ? Tensor.Full(shape, 42.0, DType.F32, device) : null;
            var (gq, gk, gv) = (Grad(wantQ, q.Shape), Grad(wantK, k.Shape), Grad(wantV, v.Shape));
            backend.AttentionBackward(qd, kd, vd, null, true, scale, o, gd, lse, gq, gk, gv);
            return (gq, gk, gv);
        }

        var expected = Run(Device.CpuReference);
        var first = Run(dev);
        var second = Run(dev);
        foreach (var (e, a, again) in new[] { (expected.dq, first.dq, second.dq), (expected.dk, first.dk, second.dk), (expected.dv, first.dv, second.dv) })
        {
            Assert.Equal(e is null, a is null);
            if (e is null) continue;
            TestData.AssertClose(e.ToDoubleArray(), a!.ToDoubleArray(), 2e-5, 2e-5);
            Assert.Equal(a.ToArray<float>(), again!.ToArray<float>());
            foreach (var x in new[] { e, a, again }) x.Dispose();
        }
    }

    [Fact]
    public void AQueryThatSeesNoKeyGivesNaN()
    {
        // Row 2 of the mask forbids every key: softmax over nothing.
        var m = new double[5 * 6];
        for (int j = 0; j < 6; j++) m[2 * 6 + j] = double.NegativeInfinity;
        using var maskHost = Tensor.FromArray(m, 1, 1, 5, 6);
        using var q = TestData.Uniform(84, new Shape(1, 1, 5, 3), DType.F32, device: GpuParity.Device);
        using var k = TestData.Uniform(85, new Shape(1, 1, 6, 3), DType.F32, device: GpuParity.Device);
        using var v = TestData.Uniform(86, new Shape(1, 1, 6, 2), DType.F32, device: GpuParity.Device);
        using var maskF = maskHost.To(DType.F32);
        using var mask = maskF.To(GpuParity.Device);
        using var o = Ops.ScaledDotProductAttention(q, k, v, mask);
        var values = o.ToArray<float>();
        for (int i = 0; i < 5; i++)
            for (int c = 0; c < 2; c++)
                Assert.Equal(i == 2, float.IsNaN(values[i * 2 + c]));
    }
}
