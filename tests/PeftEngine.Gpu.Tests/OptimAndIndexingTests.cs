namespace PeftEngine.Tests;

public class OptimAndIndexingTests
{
    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void AdamWAndSgdStepsMatchReference(DType dtype)
    {
        double tol = dtype == DType.F32 ? 1e-6 : 1e-13;
        var p = TestData.Uniform(50, new Shape(5, 7), dtype);
        var g = TestData.Uniform(51, new Shape(5, 7), dtype);
        var m = TestData.Uniform(52, new Shape(5, 7), dtype, -0.1, 0.1);
        var v = TestData.Uniform(53, new Shape(5, 7), dtype, 0, 0.01);
        GpuParity.Check([p, g, m, v], t =>
        {
            var (pp, mm, vv) = (Ops.Contiguous(t[0]), Ops.Contiguous(t[2]), Ops.Contiguous(t[3]));
            pp.Backend.AdamWStep(pp, t[1], mm, vv, 1e-2, 0.9, 0.99, 1e-8, 0.1, step: 3, maximize: false);
            var sp = Ops.Contiguous(t[0]);
            var buf = Ops.Contiguous(t[2]);
            sp.Backend.SgdStep(sp, t[1], buf, 0.1, 0.9, 0.1, nesterov: true, 0.01, maximize: true, initializeBuffer: false);
            return new[] { pp, mm, vv, sp, buf };
        }, tol, tol);
        foreach (var x in new[] { p, g, m, v }) x.Dispose();
    }

    [Fact]
    public void IndexSelectGatherAndScatterAddMatchReference()
    {
        var x = TestData.Uniform(60, new Shape(3, 4, 5), DType.F64);
        using var index = Tensor.FromArray(new long[] { 3, 0, 3 });
        var gi = new long[3 * 2 * 5];
        for (int i = 0; i < gi.Length; i++) gi[i] = (i * 7 + 1) % 4;
        using var gatherIndex = Tensor.FromArray(gi, 3, 2, 5);
        GpuParity.CheckGradients([x], t =>
        {
            using var i1 = index.To(t[0].Device);
            using var sel = Ops.IndexSelect(t[0], 1, i1);           // backward: index-add with a repeated index
            using var i2 = gatherIndex.To(t[0].Device);
            using var gat = Ops.Gather(t[0], 1, i2);                 // backward: scatter-add
            using var s1 = Ops.Sum(sel, 1);
            using var s2 = Ops.Sum(gat, 1);
            return Ops.Add(s1, s2);
        }, 1e-12, 1e-12);
        x.Dispose();
    }

    [Fact]
    public void TriangleAndArangeMatchReference()
    {
        var x = TestData.Uniform(61, new Shape(2, 4, 5), DType.F32);
        GpuParity.Check([x], t => new[]
        {
            Ops.Tril(t[0], 1),
            Ops.Arange(2, 9, 1.5, DType.F32, t[0].Device),
            Ops.Arange(-3, 40, 4, DType.I64, t[0].Device),
        }, 0, 0);
        x.Dispose();
    }
}
