namespace PeftEngine.Tests;

public class RandomTests
{
    private const int N = 100_000;

    /// <summary>Kolmogorov–Smirnov statistic: the largest gap between the empirical CDF and <paramref name="cdf"/>.</summary>
    private static double KsDistance(double[] samples, Func<double, double> cdf)
    {
        var s = (double[])samples.Clone();
        Array.Sort(s);
        double d = 0;
        for (int i = 0; i < s.Length; i++)
        {
            double f = cdf(s[i]);
            d = Math.Max(d, Math.Max(Math.Abs((i + 1.0) / s.Length - f), Math.Abs(f - (double)i / s.Length)));
        }
        return d;
    }

    /// <summary>The KS critical value at significance 0.001 for n samples.</summary>
    private static double KsLimit(int n) => 1.95 / Math.Sqrt(n);

    private static (double Mean, double Std) Moments(double[] v)
    {
        double mean = v.Average();
        return (mean, Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1)));
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void UniformHasTheRightMomentsAndDistribution(DType dtype)
    {
        using var t = Tensor.Uniform(new Shape(N), -2, 3, new Generator(1), dtype);
        var v = t.ToDoubleArray();
        Assert.All(v, x => Assert.InRange(x, -2, 3));
        var (mean, std) = Moments(v);
        double sigma = 5 / Math.Sqrt(12);
        Assert.InRange(mean, 0.5 - 5 * sigma / Math.Sqrt(N), 0.5 + 5 * sigma / Math.Sqrt(N));
        Assert.InRange(std, sigma * 0.99, sigma * 1.01);
        Assert.True(KsDistance(v, x => (x + 2) / 5) < KsLimit(N));
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void NormalHasTheRightMomentsAndDistribution(DType dtype)
    {
        using var t = Tensor.Normal(new Shape(N), 1.5, 2, new Generator(2), dtype);
        var v = t.ToDoubleArray();
        var (mean, std) = Moments(v);
        Assert.InRange(mean, 1.5 - 5 * 2 / Math.Sqrt(N), 1.5 + 5 * 2 / Math.Sqrt(N));
        Assert.InRange(std, 2 * 0.99, 2 * 1.01);
        Assert.True(KsDistance(v, x => NormalDistribution.Cdf((x - 1.5) / 2)) < KsLimit(N));
        // Neighbouring elements (the two halves of a Box–Muller pair) are uncorrelated.
        double corr = 0;
        for (int i = 0; i + 1 < N; i += 2) corr += (v[i] - mean) * (v[i + 1] - mean);
        corr /= (N / 2) * std * std;
        Assert.InRange(corr, -0.03, 0.03);
    }

    [Fact]
    public void AKsCheckRejectsTheWrongDistribution()
    {
        using var t = Tensor.Rand(new Shape(N), new Generator(3), DType.F64);
        var v = t.ToDoubleArray();
        Assert.True(KsDistance(v, x => x) < KsLimit(N));
        Assert.False(KsDistance(v, x => Math.Min(1, x * 1.02)) < KsLimit(N));
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void TruncatedNormalStaysInsideAndFollowsTheTruncatedCdf(DType dtype)
    {
        using var t = Tensor.Empty(new Shape(N), dtype);
        Init.TruncatedNormal(t, mean: 1, std: 2, a: -1, b: 4, generator: new Generator(4));
        var v = t.ToDoubleArray();
        Assert.All(v, x => Assert.InRange(x, -1 - 1e-6, 4 + 1e-6));
        double lo = NormalDistribution.Cdf(-1), hi = NormalDistribution.Cdf(1.5);
        Assert.True(KsDistance(v, x => (NormalDistribution.Cdf((x - 1) / 2) - lo) / (hi - lo)) < KsLimit(N));
    }

    [Fact]
    public void RandIntCoversTheRangeEvenly()
    {
        using var t = Tensor.RandInt(new Shape(N), -3, 7, new Generator(5));
        Assert.Equal(DType.I64, t.DType);
        var counts = new int[10];
        foreach (long x in t.ToArray<long>())
        {
            Assert.InRange(x, -3, 6);
            counts[x + 3]++;
        }
        // Chi-square with 9 degrees of freedom; 27.9 is the 0.001 critical value.
        double chi2 = counts.Sum(c => (c - N / 10.0) * (c - N / 10.0) / (N / 10.0));
        Assert.True(chi2 < 27.9, $"chi2 = {chi2}");
    }

    [Fact]
    public void BernoulliHitsWithTheGivenProbability()
    {
        using var t = Tensor.Empty(new Shape(N), DType.U8);
        Ops.BernoulliInPlace(t, 0.3, new Generator(6));
        double ones = t.ToArray<byte>().Count(b => b == 1);
        Assert.InRange(ones / N, 0.3 - 5 * Math.Sqrt(0.21 / N), 0.3 + 5 * Math.Sqrt(0.21 / N));
    }

    [Fact]
    public void SameSeedSameNumbersAndSuccessiveFillsDiffer()
    {
        using var a = Tensor.Randn(new Shape(3, 5), new Generator(9));
        using var b = Tensor.Randn(new Shape(3, 5), new Generator(9));
        Assert.Equal(a.ToArray<float>(), b.ToArray<float>());
        var g = new Generator(9);
        using var c = Tensor.Randn(new Shape(3, 5), g);
        using var d = Tensor.Randn(new Shape(3, 5), g);
        Assert.Equal(a.ToArray<float>(), c.ToArray<float>());
        Assert.DoesNotContain(c.ToArray<float>(), x => d.ToArray<float>().Contains(x));
    }

    [Fact]
    public void AStridedViewIsFilledInRowMajorOrder()
    {
        using var base_ = Tensor.Zeros(new Shape(4, 6));
        using var view = Ops.Transpose(base_, 0, 1);                 // (6, 4), not contiguous
        Ops.UniformInPlace(view, 0, 1, new Generator(11));
        using var expected = Tensor.Rand(new Shape(6, 4), new Generator(11));
        Assert.Equal(expected.ToArray<float>(), view.ToArray<float>());
        Assert.Equal(1, base_.Storage.Version);
    }

    [Theory]
    [InlineData(DType.BF16)]
    [InlineData(DType.F16)]
    public void StorageDTypesAreSampledInF32AndRounded(DType dtype)
    {
        using var t = Tensor.Randn(new Shape(7, 3), new Generator(12), dtype);
        using var f = Tensor.Randn(new Shape(7, 3), new Generator(12));
        using var rounded = f.To(dtype);
        Assert.Equal(dtype, t.DType);
        Assert.Equal(rounded.ToDoubleArray(), t.ToDoubleArray());
    }

    [Fact]
    public void InvalidArgumentsAreClearErrors()
    {
        var e = Assert.Throws<ArgumentException>(() => Tensor.Uniform(new Shape(2), 1, 0));
        Assert.Contains("Uniform", e.Message);
        Assert.Throws<ArgumentException>(() => Tensor.Normal(new Shape(2), 0, -1));
        Assert.Throws<ArgumentException>(() => Tensor.Rand(new Shape(2), dtype: DType.I64));
        Assert.Throws<ArgumentException>(() => Tensor.RandInt(new Shape(2), 5, 5));
        using var p = TestData.Param(1, 3);
        Assert.Throws<InvalidOperationException>(() => Ops.NormalInPlace(p));
    }
}
