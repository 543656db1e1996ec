namespace PeftEngine.Tests;

public class DropoutTests
{
    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void ZeroesAboutPAndScalesTheRest(DType dtype)
    {
        using var x = TestData.Uniform(1, new Shape(200, 101), dtype, 1, 2);
        using var y = Ops.Dropout(x, 0.25, training: true, new Generator(3));
        var xs = x.ToDoubleArray();
        var ys = y.ToDoubleArray();
        int zeros = 0;
        for (int i = 0; i < xs.Length; i++)
        {
            if (ys[i] == 0) { zeros++; continue; }
            Assert.Equal(xs[i] / 0.75, ys[i], dtype == DType.F32 ? 1e-6 : 1e-14);
        }
        double frac = (double)zeros / xs.Length, sigma = Math.Sqrt(0.25 * 0.75 / xs.Length);
        Assert.InRange(frac, 0.25 - 5 * sigma, 0.25 + 5 * sigma);
    }

    [Fact]
    public void IdentityInEvaluationOrWithPZeroButGradientsStillFlow()
    {
        using var x = TestData.Param(2, 4, 5);
        using (var y = Ops.Dropout(x, 0.5, training: false))
        {
            Assert.Equal(x.ToArray<double>(), y.ToArray<double>());
            using var s = y.Sum();
            s.Backward();
        }
        Assert.All(x.Grad!.ToArray<double>(), g => Assert.Equal(1.0, g));
        using var z = Ops.Dropout(x, 0, training: true);
        Assert.Equal(x.ToArray<double>(), z.ToArray<double>());
    }

    [Fact]
    public void PEqualOneDropsEverything()
    {
        using var x = TestData.Uniform(3, new Shape(7));
        using var y = Ops.Dropout(x, 1.0, generator: new Generator(1));
        Assert.All(y.ToArray<double>(), v => Assert.Equal(0.0, v));
    }

    [Fact]
    public void GradientsMatchFiniteDifferencesWithAFixedGenerator()
    {
        var a = TestData.Param(4, 3, 17);
        TestData.AssertGradients(x => Ops.Dropout(x[0] * x[0], 0.4, true, new Generator(77)), [a]);
        // through a transposed (strided) input
        var b = TestData.Param(5, 6, 5);
        TestData.AssertGradients(x => Ops.Dropout(Ops.Transpose(x[0], 0, 1), 0.3, true, new Generator(78)), [b]);
    }

    [Fact]
    public void BackwardRegeneratesTheForwardMask()
    {
        using var x = TestData.Param(6, 64, 33);
        var g = new Generator(5);
        using var y = Ops.Dropout(x, 0.5, true, g);
        g.Reserve(1000); // later draws must not disturb the saved mask
        using var s = y.Sum();
        s.Backward();
        var ys = y.ToArray<double>();
        var grads = x.Grad!.ToArray<double>();
        for (int i = 0; i < ys.Length; i++) Assert.Equal(ys[i] == 0 ? 0.0 : 2.0, grads[i]);
    }

    [Fact]
    public void F32AndF64DropTheSameElements()
    {
        using var a = Tensor.Ones(new Shape(1000));
        using var b = Tensor.Ones(new Shape(1000), DType.F64);
        using var ya = Ops.Dropout(a, 0.3, true, new Generator(9));
        using var yb = Ops.Dropout(b, 0.3, true, new Generator(9));
        Assert.Equal(ya.ToDoubleArray().Select(v => v == 0), yb.ToDoubleArray().Select(v => v == 0));
    }

    [Fact]
    public void InvalidProbabilityIsAClearError()
    {
        using var x = Tensor.Ones(new Shape(3));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Dropout(x, 1.5));
        Assert.Contains("Dropout", e.Message);
    }
}
