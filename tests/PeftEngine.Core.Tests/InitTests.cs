namespace PeftEngine.Tests;

public class InitTests
{
    [Fact]
    public void GainsMatchTorchNnInit()
    {
        Assert.Equal(1.0, Init.CalculateGain(Nonlinearity.Linear));
        Assert.Equal(1.0, Init.CalculateGain(Nonlinearity.Sigmoid));
        Assert.Equal(5.0 / 3, Init.CalculateGain(Nonlinearity.Tanh));
        Assert.Equal(Math.Sqrt(2), Init.CalculateGain(Nonlinearity.Relu));
        Assert.Equal(Math.Sqrt(2 / (1 + 0.01 * 0.01)), Init.CalculateGain(Nonlinearity.LeakyRelu));
        Assert.Equal(Math.Sqrt(2 / (1 + 0.2 * 0.2)), Init.CalculateGain(Nonlinearity.LeakyRelu, 0.2));
        Assert.Equal(0.75, Init.CalculateGain(Nonlinearity.Selu));
    }

    [Fact]
    public void FansCountTheReceptiveField()
    {
        Assert.Equal((20L, 10L), Init.Fans(new Shape(10, 20)));
        Assert.Equal((3L * 5 * 5, 16L * 5 * 5), Init.Fans(new Shape(16, 3, 5, 5)));
        Assert.Throws<ArgumentException>(() => Init.Fans(new Shape(7)));
    }

    private static (double MaxAbs, double Std) Stats(Tensor t)
    {
        var v = t.ToDoubleArray();
        double mean = v.Average();
        return (v.Max(Math.Abs), Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / v.Length));
    }

    [Fact]
    public void KaimingUniformUsesTheFanInBound()
    {
        // A (256, 512) Linear weight with the PyTorch Linear default a = √5: bound = gain · √(3 / 512),
        // gain = √(2 / (1 + 5)) so bound = 1 / √512.
        using var w = Tensor.Empty(new Shape(256, 512)).RequireGrad();
        Init.KaimingUniform(w, a: Math.Sqrt(5), generator: new Generator(1));
        var (maxAbs, std) = Stats(w);
        double bound = 1 / Math.Sqrt(512);
        Assert.True(maxAbs <= bound);
        Assert.True(maxAbs > 0.99 * bound);
        Assert.InRange(std, 0.98 * bound / Math.Sqrt(3), 1.02 * bound / Math.Sqrt(3));
        Assert.True(w.RequiresGrad);
    }

    [Fact]
    public void KaimingNormalFanOutRelu()
    {
        using var w = Tensor.Empty(new Shape(200, 50, 3));
        Init.KaimingNormal(w, mode: FanMode.FanOut, nonlinearity: Nonlinearity.Relu, generator: new Generator(2));
        double expected = Math.Sqrt(2) / Math.Sqrt(200 * 3);
        Assert.InRange(Stats(w).Std, 0.98 * expected, 1.02 * expected);
    }

    [Fact]
    public void XavierUniformAndNormal()
    {
        using var u = Tensor.Empty(new Shape(300, 100), DType.F64);
        Init.XavierUniform(u, gain: 2, generator: new Generator(3));
        double bound = 2 * Math.Sqrt(6.0 / 400);
        var (maxAbs, std) = Stats(u);
        Assert.True(maxAbs <= bound && maxAbs > 0.99 * bound);
        Assert.InRange(std, 0.98 * bound / Math.Sqrt(3), 1.02 * bound / Math.Sqrt(3));

        using var n = Tensor.Empty(new Shape(300, 100));
        Init.XavierNormal(n, generator: new Generator(4));
        Assert.InRange(Stats(n).Std, 0.98 * Math.Sqrt(2.0 / 400), 1.02 * Math.Sqrt(2.0 / 400));
    }

    [Fact]
    public void TruncatedNormalWithPyTorchDefaults()
    {
        using var t = Tensor.Empty(new Shape(50_000), DType.BF16);
        Init.TruncatedNormal(t, std: 1, generator: new Generator(5));
        var v = t.ToDoubleArray();
        Assert.All(v, x => Assert.InRange(x, -2, 2));
        // The variance of N(0, 1) truncated to [-2, 2] is 1 - 2·2·φ(2) / (Φ(2) - Φ(-2)) ≈ 0.7737.
        double variance = 1 - 4 * NormalDistribution.Pdf(2) / (NormalDistribution.Cdf(2) - NormalDistribution.Cdf(-2));
        double mean = v.Average();
        Assert.InRange(v.Sum(x => (x - mean) * (x - mean)) / v.Length, 0.98 * variance, 1.02 * variance);
    }
}
