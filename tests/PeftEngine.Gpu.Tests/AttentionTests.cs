namespace PeftEngine.Tests;

public class AttentionTests
{
    [Theory]
    [InlineData(DType.F32, false, false)]
    [InlineData(DType.F64, true, false)]
    [InlineData(DType.F64, false, true)]
    public void FusedAttentionForwardAndBackwardMatchReference(DType dtype, bool causal, bool withMask)
    {
        double tol = dtype == DType.F32 ? 1e-5 : 1e-11;
        // grouped-query: 4 query heads over 2 key/value heads; T = 3 queries attend S = 5 keys (last 3 positions)
        var q = TestData.Uniform(40, new Shape(2, 4, 3, 6), dtype, -2, 2);
        var k = TestData.Uniform(41, new Shape(2, 2, 5, 6), dtype, -2, 2);
        var v = TestData.Uniform(42, new Shape(2, 2, 5, 4), dtype);
        var mask = TestData.Uniform(43, new Shape(2, 1, 3, 5), dtype);
        GpuParity.CheckGradients([q, k, v], t =>
        {
            using var m = withMask ? mask.To(t[0].Device) : null;
            return Ops.ScaledDotProductAttention(t[0], t[1], t[2], m, causal);
        }, tol, tol);
        foreach (var x in new[] { q, k, v, mask }) x.Dispose();
    }
}
