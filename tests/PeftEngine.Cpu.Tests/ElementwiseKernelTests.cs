namespace PeftEngine.Tests;

/// <summary>The fast CPU kernels of every <see cref="UnaryOp"/> and <see cref="BinaryOp"/> against the reference
/// kernels, forward and backward, in F32 and F64, on tensors large enough to run on several threads.</summary>
public class ElementwiseKernelTests
{
    // 41 x 1001 = 41041 elements: above the parallel threshold, and rows that end in a partial vector.
    private static readonly Shape Big = new(41, 1001);

    /// <summary>(op, input range, alpha, beta): ranges keep each function inside its domain.</summary>
    public static TheoryData<UnaryOp, double, double, double, double, DType> UnaryCases()
    {
        var cases = new (UnaryOp Op, double Lo, double Hi, double Alpha, double Beta)[]
        {
            (UnaryOp.Neg, -3, 3, 0, 0), (UnaryOp.Exp, -5, 5, 0, 0), (UnaryOp.Log, 0.05, 4, 0, 0),
            (UnaryOp.Sqrt, 0.05, 4, 0, 0), (UnaryOp.Rsqrt, 0.05, 4, 0, 0), (UnaryOp.Abs, -3, 3, 0, 0),
            (UnaryOp.Sign, -3, 3, 0, 0), (UnaryOp.Square, -3, 3, 0, 0), (UnaryOp.Reciprocal, 0.2, 3, 0, 0),
            (UnaryOp.Sin, -6, 6, 0, 0), (UnaryOp.Cos, -6, 6, 0, 0), (UnaryOp.Relu, -3, 3, 0, 0),
            (UnaryOp.Sigmoid, -12, 12, 0, 0), (UnaryOp.Tanh, -6, 6, 0, 0), (UnaryOp.Silu, -12, 12, 0, 0),
            (UnaryOp.Softplus, -25, 25, 0, 0), (UnaryOp.Erf, -4.5, 4.5, 0, 0), (UnaryOp.GeluErf, -8, 8, 0, 0),
            (UnaryOp.GeluTanh, -8, 8, 0, 0), (UnaryOp.LeakyRelu, -3, 3, 0.1, 0), (UnaryOp.PowScalar, 0.05, 3, 2.5, 0),
            (UnaryOp.PowScalar, -2, 2, 3, 0), (UnaryOp.PowScalar, -2, 2, 2, 0), (UnaryOp.PowScalar, 0.1, 3, 0.5, 0),
            (UnaryOp.PowScalar, 0.2, 3, -1.5, 0), (UnaryOp.PowScalar, -2, 2, 0, 0), (UnaryOp.Clamp, -2, 2, -0.5, 0.7),
            (UnaryOp.Clamp, -2, 2, double.NegativeInfinity, 0.3), (UnaryOp.AddScalar, -3, 3, 1.5, 0),
            (UnaryOp.MulScalar, -3, 3, -2, 0),
        };
        var data = new TheoryData<UnaryOp, double, double, double, double, DType>();
        foreach (var dtype in new[] { DType.F32, DType.F64 })
            foreach (var c in cases) data.Add(c.Op, c.Lo, c.Hi, c.Alpha, c.Beta, dtype);
        return data;
    }

    [Theory]
    [MemberData(nameof(UnaryCases))]
    public void UnaryForwardMatchesReference(UnaryOp op, double lo, double hi, double alpha, double beta, DType dtype)
    {
        using var x = TestData.Uniform(10 + (int)op, Big, dtype, lo, hi);
        using var xr = x.To(Device.CpuReference);
        using var y = Tensor.EmptyLike(x);
        using var yr = Tensor.EmptyLike(xr);
        x.Backend.Unary(op, x, y, alpha, beta);
        xr.Backend.Unary(op, xr, yr, alpha, beta);
        AssertParity(yr, y, dtype);

        // A transposed (strided) input, and the same computed in place on a strided view.
        using var t = Ops.Transpose(x, 0, 1);
        using var tr = Ops.Transpose(xr, 0, 1);
        using var yt = Tensor.EmptyLike(t);
        x.Backend.Unary(op, t, yt, alpha, beta);
        using var ytr = Tensor.EmptyLike(tr);
        xr.Backend.Unary(op, tr, ytr, alpha, beta);
        AssertParity(ytr, yt, dtype);
        x.Backend.Unary(op, t, t, alpha, beta);
        xr.Backend.Unary(op, tr, tr, alpha, beta);
        AssertParity(tr, t, dtype);
    }

    [Theory]
    [MemberData(nameof(UnaryCases))]
    public void UnaryBackwardMatchesReference(UnaryOp op, double lo, double hi, double alpha, double beta, DType dtype)
    {
        using var x0 = TestData.Uniform(20 + (int)op, new Shape(1001, 41), dtype, lo, hi);
        using var x = Ops.Transpose(x0, 0, 1);                    // strided (41, 1001) view
        using var dy = TestData.Uniform(30 + (int)op, Big, dtype);
        using var xr = x.To(Device.CpuReference);
        using var dyr = dy.To(Device.CpuReference);
        using var dx = Tensor.EmptyLike(dy);
        using var dxr = Tensor.EmptyLike(dyr);
        x.Backend.UnaryBackward(op, x, dy, dx, alpha, beta);
        xr.Backend.UnaryBackward(op, xr, dyr, dxr, alpha, beta);
        AssertParity(dxr, dx, dtype);
    }

    public static TheoryData<BinaryOp, DType> BinaryCases()
    {
        var data = new TheoryData<BinaryOp, DType>();
        foreach (var dtype in new[] { DType.F32, DType.F64 })
            foreach (var op in Enum.GetValues<BinaryOp>()) data.Add(op, dtype);
        return data;
    }

    [Theory]
    [MemberData(nameof(BinaryCases))]
    public void BinaryForwardMatchesReferenceWithBroadcastingAndStrides(BinaryOp op, DType dtype)
    {
        var (a, b) = BinaryInputs(op, new Shape(37, 1001), new Shape(1001), dtype, seed: 40 + (int)op);
        using var b2 = TestData.Uniform(50, new Shape(37, 1), dtype, op == BinaryOp.Pow ? -2 : -1, 2);
        using var s = TestData.Uniform(51, new Shape(1), dtype, 0.5, 1.5);
        Func<Tensor, Tensor, Tensor> f = (x, y) => OpOf(op, x, y);
        TestData.AssertMatchesReference(x => f(x[0], x[1]), [a, b], Atol(dtype), Rtol(dtype));           // row broadcast
        TestData.AssertMatchesReference(x => f(x[0], x[1]), [a, b2], Atol(dtype), Rtol(dtype));          // column broadcast
        TestData.AssertMatchesReference(x => f(x[1], x[0]), [a, s], Atol(dtype), Rtol(dtype));           // scalar first
        TestData.AssertMatchesReference(x => f(x[0], x[1]), [a, s], Atol(dtype), Rtol(dtype));           // scalar second
        using var at = Ops.Contiguous(Ops.Transpose(a, 0, 1));
        TestData.AssertMatchesReference(x => f(Ops.Transpose(x[0], 0, 1), x[1]), [at, b], Atol(dtype), Rtol(dtype));
        a.Dispose();
        b.Dispose();
    }

    [Theory]
    [MemberData(nameof(BinaryCases))]
    public void BinaryBackwardMatchesReference(BinaryOp op, DType dtype)
    {
        var shape = new Shape(37, 1001);
        var (a, b) = BinaryInputs(op, shape, new Shape(1001), dtype, seed: 60 + (int)op);
        using var ar = a.To(Device.CpuReference);
        using var br = b.To(Device.CpuReference);
        using var dy = TestData.Uniform(70, shape, dtype);
        using var dyr = dy.To(Device.CpuReference);
        // b broadcast along rows (stride 0), a both contiguous and transposed
        using var ea = Ops.Expand(a, 37, 1001);
        using var eb = Ops.Expand(b, 37, 1001);
        using var ear = Ops.Expand(ar, 37, 1001);
        using var ebr = Ops.Expand(br, 37, 1001);
        foreach (var (needA, needB) in new[] { (true, true), (true, false), (false, true) })
        {
            using var da = needA ? Tensor.EmptyLike(dy) : null;
            using var db = needB ? Tensor.EmptyLike(dy) : null;
            using var dar = needA ? Tensor.EmptyLike(dyr) : null;
            using var dbr = needB ? Tensor.EmptyLike(dyr) : null;
            a.Backend.BinaryBackward(op, ea, eb, dy, da, db);
            ar.Backend.BinaryBackward(op, ear, ebr, dyr, dar, dbr);
            if (needA) AssertParity(dar!, da!, dtype);
            if (needB) AssertParity(dbr!, db!, dtype);
        }
        // a as a transposed (strided) view, b broadcast along rows
        using var aT = Ops.Transpose(a, 0, 1);
        using var aTc = Ops.Contiguous(aT);
        using var strided = Ops.Transpose(aTc, 0, 1);
        using var stridedR = strided.To(Device.CpuReference);
        using var ga = Tensor.EmptyLike(dy);
        using var gb = Tensor.EmptyLike(dy);
        using var gar = Tensor.EmptyLike(dyr);
        using var gbr = Tensor.EmptyLike(dyr);
        a.Backend.BinaryBackward(op, strided, eb, dy, ga, gb);
        ar.Backend.BinaryBackward(op, stridedR, ebr, dyr, gar, gbr);
        AssertParity(gar, ga, dtype);
        AssertParity(gbr, gb, dtype);
        a.Dispose();
        b.Dispose();
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void MaximumAndMinimumPropagateNaN(DType dtype)
    {
        double nan = double.NaN;
        foreach (var device in new[] { Device.Cpu, Device.CpuReference })
        {
            using var a0 = Tensor.FromArray(new[] { nan, 1, 2, nan, -1, 3 });
            using var b0 = Tensor.FromArray(new[] { 0, nan, 2, nan, -2, 5 });
            using var a = a0.To(device).To(dtype);
            using var b = b0.To(device).To(dtype);
            using (var mx = Ops.Maximum(a, b)) AssertSame(new[] { nan, nan, 2, nan, -1, 5 }, mx.ToDoubleArray());
            using (var mn = Ops.Minimum(a, b)) AssertSame(new[] { nan, nan, 2, nan, -2, 3 }, mn.ToDoubleArray());
            using var s = Tensor.Scalar(nan, dtype, device);
            using (var mx = Ops.Maximum(a, s)) Assert.All(mx.ToDoubleArray(), v => Assert.True(double.IsNaN(v)));
            using (var mn = Ops.Minimum(s, b)) Assert.All(mn.ToDoubleArray(), v => Assert.True(double.IsNaN(v)));
            using var relu = Ops.Relu(a);
            Assert.True(double.IsNaN(relu.ToDoubleArray()[0]));
        }
    }

    [Theory]
    [InlineData(DType.F32, 2e-6)]
    [InlineData(DType.F64, 1e-15)]
    public void ActivationsHitKnownValues(DType dtype, double rtol)
    {
        foreach (var device in new[] { Device.Cpu, Device.CpuReference })
        {
            void Check(Func<Tensor, Tensor> f, double x, double expected) => CheckValue(device, f, x, expected);
            void CheckGrad(UnaryOp op, double x, double expected) => CheckDerivative(device, op, x, expected);
            Check(x => Ops.Gelu(x), 1, 0.8413447460685429);
            Check(x => Ops.Gelu(x), -3, -0.004049694094890284);
            Check(x => Ops.Gelu(x, "tanh"), 1, 0.8411919906082767);
            Check(Ops.Silu, 1, 0.7310585786300049);
            Check(x => Ops.Softplus(x), 1, 1.3132616875182228);
            Check(x => Ops.Softplus(x), -20, 2.0611536203143807e-9);
            Check(Ops.Sigmoid, 0, 0.5);
            Check(Ops.Erf, 0.5, 0.5204998778130465);
            Check(Ops.Erf, -2, -0.9953222650189527);
            if (dtype == DType.F64) Check(x => Ops.Gelu(x), -10, -7.619853024160526e-23);

            // derivatives at 1: gelu' = Φ(1) + φ(1), silu' = σ(1)(1 + 1 − σ(1)), and the tanh form's
            CheckGrad(UnaryOp.GeluErf, 1, 1.0833154705876863);
            CheckGrad(UnaryOp.Silu, 1, 0.9276705118714867);
            CheckGrad(UnaryOp.GeluTanh, 1, 1.0829640838457826);
            CheckGrad(UnaryOp.Erf, 1, 0.41510749742059472);   // (2/√π) e^−1
        }

        void CheckValue(Device device, Func<Tensor, Tensor> f, double x, double expected)
        {
            using var t = Tensor.Full(new Shape(3), x, dtype, device);
            using var y = f(t);
            foreach (double v in y.ToDoubleArray())
                Assert.True(Math.Abs(v - expected) <= rtol * Math.Abs(expected), $"f({x}) = {v:R} on {device}, expected {expected:R}");
        }

        void CheckDerivative(Device device, UnaryOp op, double x, double expected)
        {
            using var t = Tensor.Full(new Shape(3), x, dtype, device);
            using var dy = Tensor.Ones(new Shape(3), dtype, device);
            using var dx = Tensor.EmptyLike(t);
            t.Backend.UnaryBackward(op, t, dy, dx);
            foreach (double v in dx.ToDoubleArray())
                Assert.True(Math.Abs(v - expected) <= rtol * Math.Abs(expected), $"{op}'({x}) = {v:R} on {device}, expected {expected:R}");
        }
    }

    /// <summary>Inputs suited to each op: positive bases for pow, and values on a coarse grid for maximum and
    /// minimum so that many ties (where the gradient is split) occur.</summary>
    private static (Tensor A, Tensor B) BinaryInputs(BinaryOp op, Shape sa, Shape sb, DType dtype, int seed)
    {
        if (op == BinaryOp.Pow)
            return (TestData.Uniform(seed, sa, dtype, 0.1, 3), TestData.Uniform(seed + 1, sb, dtype, -2, 2.5));
        if (op is BinaryOp.Maximum or BinaryOp.Minimum)
        {
            using var a = TestData.Uniform(seed, sa, DType.F64, -2, 2);
            using var b = TestData.Uniform(seed + 1, sb, DType.F64, -2, 2);
            using var qa = Tensor.FromArray(a.ToArray<double>().Select(v => Math.Round(v * 2) / 2).ToArray(), sa.ToArray());
            using var qb = Tensor.FromArray(b.ToArray<double>().Select(v => Math.Round(v * 2) / 2).ToArray(), sb.ToArray());
            return (qa.To(dtype), qb.To(dtype));
        }
        return (TestData.Uniform(seed, sa, dtype, -2, 2), TestData.Uniform(seed + 1, sb, dtype, 0.5, 2));
    }

    private static Tensor OpOf(BinaryOp op, Tensor a, Tensor b) => op switch
    {
        BinaryOp.Add => Ops.Add(a, b),
        BinaryOp.Sub => Ops.Sub(a, b),
        BinaryOp.Mul => Ops.Mul(a, b),
        BinaryOp.Div => Ops.Div(a, b),
        BinaryOp.Pow => Ops.Pow(a, b),
        BinaryOp.Maximum => Ops.Maximum(a, b),
        BinaryOp.Minimum => Ops.Minimum(a, b),
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    private static double Atol(DType dtype) => dtype == DType.F64 ? 1e-14 : 2e-6;

    private static double Rtol(DType dtype) => dtype == DType.F64 ? 1e-12 : 2e-5;

    private static void AssertParity(Tensor reference, Tensor fast, DType dtype) =>
        TestData.AssertClose(reference, fast, Atol(dtype), Rtol(dtype));

    private static void AssertSame(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(double.IsNaN(expected[i]) ? double.IsNaN(actual[i]) : expected[i] == actual[i], $"[{i}]: expected {expected[i]}, got {actual[i]}");
    }
}
