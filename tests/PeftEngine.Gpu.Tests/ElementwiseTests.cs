namespace PeftEngine.Tests;

public class ElementwiseTests
{
    private static readonly (UnaryOp Op, double Alpha, double Beta, double Lo, double Hi)[] Unaries =
    [
        (UnaryOp.Neg, 0, 0, -3, 3), (UnaryOp.Exp, 0, 0, -3, 3), (UnaryOp.Log, 0, 0, 0.1, 4), (UnaryOp.Sqrt, 0, 0, 0.1, 4),
        (UnaryOp.Rsqrt, 0, 0, 0.1, 4), (UnaryOp.Abs, 0, 0, -3, 3), (UnaryOp.Sign, 0, 0, -3, 3), (UnaryOp.Square, 0, 0, -3, 3),
        (UnaryOp.Reciprocal, 0, 0, 0.5, 3), (UnaryOp.Sin, 0, 0, -3, 3), (UnaryOp.Cos, 0, 0, -3, 3), (UnaryOp.Relu, 0, 0, -3, 3),
        (UnaryOp.Sigmoid, 0, 0, -30, 30), (UnaryOp.Tanh, 0, 0, -3, 3), (UnaryOp.Silu, 0, 0, -8, 8), (UnaryOp.Softplus, 0, 0, -40, 40),
        (UnaryOp.Erf, 0, 0, -4, 4), (UnaryOp.GeluErf, 0, 0, -9, 4), (UnaryOp.GeluTanh, 0, 0, -5, 5), (UnaryOp.LeakyRelu, 0.1, 0, -3, 3),
        (UnaryOp.PowScalar, 2.5, 0, 0.1, 3), (UnaryOp.Clamp, -0.5, 0.7, -2, 2), (UnaryOp.AddScalar, 1.5, 0, -3, 3), (UnaryOp.MulScalar, -2, 0, -3, 3),
    ];

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void UnaryForwardAndBackwardMatchReference(DType dtype)
    {
        double tol = dtype == DType.F32 ? 2e-6 : 1e-12;
        foreach (var (op, alpha, beta, lo, hi) in Unaries)
        {
            var x = TestData.Uniform((int)op, new Shape(3, 7), dtype, lo, hi);
            var dy = TestData.Uniform(50 + (int)op, new Shape(7, 3), dtype);
            GpuParity.Check([x, dy], t =>
            {
                // the input is read through a transposed view
                using var xt = Ops.Transpose(t[0], 0, 1);
                var y = Tensor.Empty(xt.Shape, dtype, xt.Device);
                var dx = Tensor.Empty(xt.Shape, dtype, xt.Device);
                xt.Backend.Unary(op, xt, y, alpha, beta);
                xt.Backend.UnaryBackward(op, xt, t[1], dx, alpha, beta);
                return new[] { y, dx };
            }, tol, tol);
            x.Dispose();
            dy.Dispose();
        }
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void BroadcastBinaryOpsAndGradientsMatchReference(DType dtype)
    {
        double tol = dtype == DType.F32 ? 2e-6 : 1e-12;
        var a = TestData.Uniform(1, new Shape(2, 3, 5), dtype, 0.5, 2);
        var b = TestData.Uniform(2, new Shape(3, 1), dtype, 0.5, 2);
        GpuParity.CheckGradients([a, b], t =>
        {
            using var sum = Ops.Add(t[0], t[1]);
            using var prod = Ops.Mul(sum, t[0]);
            using var quot = Ops.Div(prod, t[1]);
            using var diff = Ops.Sub(quot, t[1]);
            return Ops.Pow(diff, t[1]);
        }, tol, tol);
        foreach (var op in new[] { BinaryOp.Maximum, BinaryOp.Minimum })
        {
            GpuParity.Check([a, b], t =>
            {
                using var ae = t[0].Alias();
                using var be = Ops.Expand(t[1], 2, 3, 5);
                var y = Tensor.Empty(ae.Shape, dtype, ae.Device);
                var da = Tensor.Empty(ae.Shape, dtype, ae.Device);
                var db = Tensor.Empty(ae.Shape, dtype, ae.Device);
                ae.Backend.Binary(op, ae, be, y);
                ae.Backend.BinaryBackward(op, ae, be, y, da, db);
                return new[] { y, da, db };
            }, tol, tol);
        }
        a.Dispose();
        b.Dispose();
    }

    [Fact]
    public void CompareWhereAndMaskedFillMatchReference()
    {
        var a = TestData.Uniform(3, new Shape(4, 6), DType.F32);
        var b = TestData.Uniform(4, new Shape(6), DType.F32);
        GpuParity.Check([a, b], t =>
        {
            using var be = Ops.Expand(t[1], 4, 6);
            var outs = new List<Tensor>();
            foreach (var op in Enum.GetValues<CompareOp>())
            {
                var y = Tensor.Empty(t[0].Shape, DType.U8, t[0].Device);
                t[0].Backend.Compare(op, t[0], be, y);
                outs.Add(y);
            }
            using var cond = Tensor.Empty(t[0].Shape, DType.U8, t[0].Device);
            t[0].Backend.Compare(CompareOp.Gt, t[0], be, cond);
            outs.Add(Ops.Where(cond, t[0], be));
            outs.Add(Ops.MaskedFill(t[0], cond, -7));
            return outs.ToArray();
        }, 0, 0);
        a.Dispose();
        b.Dispose();
    }
}
