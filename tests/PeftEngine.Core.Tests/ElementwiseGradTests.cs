namespace PeftEngine.Tests;

/// <summary>Finite-difference gradient checks (float64) of the elementwise math, activation, min/max, pow and
/// where ops, including broadcasting, strided inputs and the rules at ties and domain edges.</summary>
public class ElementwiseGradTests
{
    private static Tensor In(int seed, double lo, double hi, params int[] shape) =>
        TestData.Uniform(seed, new Shape(shape), DType.F64, lo, hi).RequireGrad();

    private static Func<Tensor, Tensor> Unary(string name) => name switch
    {
        "Exp" => Ops.Exp,
        "Log" => Ops.Log,
        "Sqrt" => Ops.Sqrt,
        "Rsqrt" => Ops.Rsqrt,
        "Abs" => Ops.Abs,
        "Sign" => Ops.Sign,
        "Square" => Ops.Square,
        "Reciprocal" => Ops.Reciprocal,
        "Sin" => Ops.Sin,
        "Cos" => Ops.Cos,
        "Erf" => Ops.Erf,
        "Pow2.5" => x => Ops.Pow(x, 2.5),
        "Pow3" => x => Ops.Pow(x, 3),
        "Pow-1.5" => x => Ops.Pow(x, -1.5),
        "Pow0" => x => Ops.Pow(x, 0),
        "Clamp" => x => Ops.Clamp(x, -0.4, 0.5),
        "ClampMin" => x => Ops.Clamp(x, min: -0.3),
        "ClampMax" => x => Ops.Clamp(x, max: 0.2),
        "Relu" => Ops.Relu,
        "LeakyRelu" => x => Ops.LeakyRelu(x, 0.2),
        "Gelu" => x => Ops.Gelu(x),
        "GeluTanh" => x => Ops.Gelu(x, "tanh"),
        "Silu" => Ops.Silu,
        "Sigmoid" => Ops.Sigmoid,
        "Tanh" => Ops.Tanh,
        "Softplus" => x => Ops.Softplus(x),
        "SoftplusBeta2" => x => Ops.Softplus(x, beta: 2),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [InlineData("Exp", -2, 2)]
    [InlineData("Log", 0.2, 3)]
    [InlineData("Sqrt", 0.2, 3)]
    [InlineData("Rsqrt", 0.2, 3)]
    [InlineData("Abs", -2, 2)]
    [InlineData("Sign", -2, 2)]
    [InlineData("Square", -2, 2)]
    [InlineData("Reciprocal", 0.3, 3)]
    [InlineData("Reciprocal", -3, -0.3)]
    [InlineData("Sin", -4, 4)]
    [InlineData("Cos", -4, 4)]
    [InlineData("Erf", -2.5, 2.5)]
    [InlineData("Pow2.5", 0.2, 3)]
    [InlineData("Pow3", -2, 2)]
    [InlineData("Pow-1.5", 0.3, 3)]
    [InlineData("Pow0", -2, 2)]
    [InlineData("Clamp", -1, 1)]
    [InlineData("ClampMin", -1, 1)]
    [InlineData("ClampMax", -1, 1)]
    [InlineData("Relu", -2, 2)]
    [InlineData("LeakyRelu", -2, 2)]
    [InlineData("Gelu", -5, 5)]
    [InlineData("GeluTanh", -5, 5)]
    [InlineData("Silu", -8, 8)]
    [InlineData("Sigmoid", -8, 8)]
    [InlineData("Tanh", -3, 3)]
    [InlineData("Softplus", -8, 8)]
    [InlineData("SoftplusBeta2", -4, 4)]
    public void UnaryGradientsMatchFiniteDifferences(string name, double lo, double hi)
    {
        var f = Unary(name);
        using var x = In(1, lo, hi, 3, 7);
        TestData.AssertGradients(v => f(v[0]), [x]);
        // a transposed (strided) view of an odd-sized input
        using var xt = In(2, lo, hi, 5, 3);
        TestData.AssertGradients(v => { using var t = Ops.Transpose(v[0], 0, 1); return f(t); }, [xt]);
    }

    [Fact]
    public void PowOfTwoTensorsWithBroadcasting()
    {
        using var a = In(3, 0.3, 2.5, 3, 1, 5);
        using var b = In(4, -1.5, 2, 2, 5);
        TestData.AssertGradients(v => Ops.Pow(v[0], v[1]), [a, b]);
        using var bt = In(5, -1.5, 2, 5, 3);
        TestData.AssertGradients(v => { using var t = Ops.Transpose(v[1], 0, 1); return Ops.Pow(v[0], t); }, [a, bt]);
    }

    [Fact]
    public void PowOfAConstantBase()
    {
        using var x = In(6, -2, 2, 4, 3);
        TestData.AssertGradients(v => Ops.Pow(2.5, v[0]), [x]);
    }

    [Fact]
    public void PowGivesGradientOnlyToInputsThatNeedIt()
    {
        using var a = TestData.Uniform(7, new Shape(3, 4), DType.F64, 0.5, 2);   // frozen
        using var b = In(8, -1, 1, 4);
        using (var y = Ops.Pow(a, b))
        using (var s = y.Sum())
            s.Backward();
        Assert.Null(a.Grad);
        Assert.NotNull(b.Grad);
        Assert.Equal(new Shape(4), b.Grad!.Shape);
    }

    [Fact]
    public void PowFollowsPyTorchAtZero()
    {
        // d/da a^b = 0 where b = 0 (also at a = 0); d/db a^b = 0 where a = 0 and b >= 0
        using var a = Tensor.FromArray(new double[] { 0, 2, 0, 3 }).RequireGrad();
        using var b = Tensor.FromArray(new double[] { 0, 0, 2, 1 }).RequireGrad();
        using (var y = Ops.Pow(a, b))
        using (var s = y.Sum())
            s.Backward();
        TestData.AssertClose(new double[] { 0, 0, 0, 1 }, a.Grad!.ToArray<double>(), 1e-15, 1e-15);
        TestData.AssertClose(new double[] { 0, Math.Log(2), 0, 3 * Math.Log(3) }, b.Grad!.ToArray<double>(), 1e-15, 1e-15);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void MaximumAndMinimumWithBroadcasting(bool max)
    {
        Func<Tensor, Tensor, Tensor> f = max ? Ops.Maximum : Ops.Minimum;
        using var a = In(9, -1, 1, 3, 5);
        using var b = In(10, -1, 1, 5);
        TestData.AssertGradients(v => f(v[0], v[1]), [a, b]);
        using var at = In(11, -1, 1, 5, 3);
        TestData.AssertGradients(v => { using var t = Ops.Transpose(v[0], 0, 1); return f(t, v[1]); }, [at, b]);
    }

    [Fact]
    public void MaximumAndMinimumSplitTiesLikePyTorch()
    {
        using var a = Tensor.FromArray(new double[] { 1, 2, 3, 4 }).RequireGrad();
        using var b = Tensor.FromArray(new double[] { 1, 0, 5, 4 }).RequireGrad();
        Grads(Ops.Maximum, out var da, out var db);
        Assert.Equal(new double[] { 0.5, 1, 0, 0.5 }, da);
        Assert.Equal(new double[] { 0.5, 0, 1, 0.5 }, db);
        Grads(Ops.Minimum, out da, out db);
        Assert.Equal(new double[] { 0.5, 0, 1, 0.5 }, da);
        Assert.Equal(new double[] { 0.5, 1, 0, 0.5 }, db);

        // A broadcast scalar collects its shares from every element: two ties and one win.
        using var s = Tensor.FromArray(new double[] { 2 }).RequireGrad();
        using var x = Tensor.FromArray(new double[] { 2, 1, 2, 3 });
        using (var y = Ops.Maximum(x, s))
        using (var sum = y.Sum())
            sum.Backward();
        Assert.Equal(new double[] { 2 }, s.Grad!.ToArray<double>());

        void Grads(Func<Tensor, Tensor, Tensor> f, out double[] ga, out double[] gb)
        {
            a.ZeroGrad();
            b.ZeroGrad();
            using (var y = f(a, b))
            using (var sum = y.Sum())
                sum.Backward();
            ga = a.Grad!.ToArray<double>();
            gb = b.Grad!.ToArray<double>();
        }
    }

    [Fact]
    public void WhereRoutesGradientsThroughTheChosenBranch()
    {
        using var c = TestData.Uniform(12, new Shape(3, 1), DType.F64);
        using var cond = Ops.Gt(c, 0);                     // (3, 1) mask, broadcast over columns
        using var a = In(13, -1, 1, 3, 4);
        using var b = In(14, -1, 1, 4);                      // broadcast over rows
        TestData.AssertGradients(v => Ops.Where(cond, v[0], v[1]), [a, b]);
        TestData.AssertGradients(v => Ops.Where(cond, v[0], 0.5), [a]);
        TestData.AssertGradients(v => Ops.Where(cond, -2.0, v[0]), [a]);

        using var x = Tensor.FromArray(new double[] { 1, 2, 3 }).RequireGrad();
        using var y = Tensor.FromArray(new double[] { 4, 5, 6 }).RequireGrad();
        using var m = Tensor.FromArray(new byte[] { 1, 0, 1 });
        using (var w = Ops.Where(m, x, y))
        using (var sum = w.Sum())
            sum.Backward();
        Assert.Equal(new double[] { 1, 0, 1 }, x.Grad!.ToArray<double>());
        Assert.Equal(new double[] { 0, 1, 0 }, y.Grad!.ToArray<double>());
    }

    [Fact]
    public void ACompositionOfElementwiseOpsHasTheRightGradient()
    {
        // (B, C) activations with a (C) bias and a (B, 1) gate, as in a small MLP block
        using var h = In(15, -2, 2, 4, 5);
        using var bias = In(16, -1, 1, 5);
        using var gate = In(17, -1, 1, 4, 1);
        TestData.AssertGradients(v =>
        {
            using var z = Ops.Add(v[0], v[1]);
            using var g = Ops.Gelu(z, "tanh");
            using var s = Ops.Sigmoid(v[2]);
            using var m = Ops.Mul(g, s);
            using var c = Ops.Clamp(z, max: 1.0);
            using var e = Ops.Exp(c);
            using var mx = Ops.Maximum(m, e);
            using var si = Ops.Silu(v[0]);
            using var sq = Ops.Square(si);
            return Ops.Add(mx, sq);
        }, [h, bias, gate]);
    }

    [Fact]
    public void ComparisonsGiveMasksWithoutGradient()
    {
        using var a = In(18, -1, 1, 2, 3);
        using var lt = Ops.Lt(a, 0);
        Assert.Equal(DType.U8, lt.DType);
        Assert.False(lt.RequiresGrad);
        Assert.Null(lt.GradFn);
        var values = a.ToArray<double>();
        Assert.Equal(values.Select(v => v < 0 ? (byte)1 : (byte)0).ToArray(), lt.ToArray<byte>());
    }

    [Fact]
    public void InvalidArgumentsAreClearErrors()
    {
        using var x = TestData.Uniform(19, new Shape(2, 3));
        using var i = Tensor.FromArray(new long[] { 1, 2, 3 });
        Assert.Contains("min and max", Assert.Throws<ArgumentException>(() => Ops.Clamp(x)).Message);
        Assert.Contains("approximate", Assert.Throws<ArgumentException>(() => Ops.Gelu(x, "fast")).Message);
        Assert.Contains("beta", Assert.Throws<ArgumentException>(() => Ops.Softplus(x, 0)).Message);
        Assert.Contains("u8 mask", Assert.Throws<ArgumentException>(() => Ops.Where(x, x, x)).Message);
        Assert.Contains("dtypes differ", Assert.Throws<ArgumentException>(() => Ops.Eq(x, i)).Message);
        Assert.Contains("not a value of i64", Assert.Throws<ArgumentException>(() => Ops.Lt(i, 1.5)).Message);
        using var four = TestData.Uniform(20, new Shape(4));
        Assert.Contains("cannot be broadcast", Assert.Throws<ArgumentException>(() => Ops.Maximum(x, four)).Message);
        using var f16 = x.To(DType.F16);
        Assert.Contains("f16", Assert.Throws<ArgumentException>(() => Ops.Exp(f16)).Message);
    }
}
