namespace PeftEngine.Tests;

public class MatMulTests
{
    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void GemmWithTransposesBroadcastAlphaBetaAndBiasMatchesReference(DType dtype)
    {
        double tol = dtype == DType.F32 ? 1e-5 : 1e-12;
        // m, n, k not multiples of the tile (16 or 64) nor of the k slice (8); batch 2 with a broadcast operand.
        int batch = 2, m = 19, n = 21, k = 11;
        var a = TestData.Uniform(20, new Shape(batch, m, k), dtype);
        var at = TestData.Uniform(21, new Shape(batch, k, m), dtype);
        var b = TestData.Uniform(22, new Shape(1, k, n), dtype);
        var bt = TestData.Uniform(23, new Shape(1, n, k), dtype);
        var c0 = TestData.Uniform(24, new Shape(batch, m, n), dtype);
        var bias = TestData.Uniform(25, new Shape(n), dtype);
        GpuParity.Check([a, at, b, bt, c0, bias], t =>
        {
            using var bb = Ops.Expand(t[2], batch, k, n);   // batch stride 0
            using var bbt = Ops.Expand(t[3], batch, n, k);
            var outs = new List<Tensor>();
            foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
            {
                var c = Ops.Contiguous(t[4]);
                t[0].Backend.Gemm(ta ? t[1] : t[0], tb ? bbt : bb, c, ta, tb, alpha: 0.5, beta: -1.5, bias: t[5]);
                outs.Add(c);
            }
            return outs.ToArray();
        }, tol, tol);
        foreach (var x in new[] { a, at, b, bt, c0, bias }) x.Dispose();
    }

    [Fact]
    public void MatMulAndLinearGradientsMatchReference()
    {
        var x = TestData.Uniform(26, new Shape(2, 5, 7), DType.F64);
        var w = TestData.Uniform(27, new Shape(6, 7), DType.F64);
        var bias = TestData.Uniform(28, new Shape(6), DType.F64);
        GpuParity.CheckGradients([x, w, bias], t => Ops.Linear(t[0], t[1], t[2]), 1e-12, 1e-12);
        GpuParity.CheckGradients([x, w], t =>
        {
            using var wt = Ops.Transpose(t[1], 0, 1);            // (7, 6) strided
            return Ops.MatMul(t[0], wt);
        }, 1e-12, 1e-12);
        x.Dispose();
        w.Dispose();
        bias.Dispose();
    }

    [Fact]
    public void Bf16WeightTimesF32ActivationsMatchesReference()
    {
        var x = TestData.Uniform(29, new Shape(4, 9), DType.F32);
        var w = TestData.Uniform(30, new Shape(5, 9), DType.BF16);
        GpuParity.Check([x, w], t => Ops.Linear(t[0], t[1]), 1e-5, 1e-5);
        x.Dispose();
        w.Dispose();
    }
}
