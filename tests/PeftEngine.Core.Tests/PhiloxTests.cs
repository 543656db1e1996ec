namespace PeftEngine.Tests;

public class PhiloxTests
{
    // Known-answer vectors of Philox4x32-10 from the Random123 distribution (kat_vectors).
    [Theory]
    [InlineData(0u, 0u, 0u, 0u, 0u, 0u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [InlineData(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [InlineData(0xa4093822u, 0x299f31d0u, 0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void MatchesRandom123KnownAnswers(uint k0, uint k1, uint c0, uint c1, uint c2, uint c3, uint x0, uint x1, uint x2, uint x3)
    {
        Assert.Equal(new Philox.Block(x0, x1, x2, x3), Philox.Compute(k0, k1, c0, c1, c2, c3));
    }

    [Fact]
    public void SeedIsTheKeyAndTheCounterFillsTheLow64Bits()
    {
        ulong seed = 0x299f31d0_a4093822, counter = 0x85a308d3_243f6a88;
        Assert.Equal(Philox.Compute(0xa4093822, 0x299f31d0, 0x243f6a88, 0x85a308d3, 0, 0), Philox.Compute(seed, counter));
        // Word k of a stream is word k % 4 of block offset + k / 4.
        var block = Philox.Compute(seed, 17 + 2);
        Assert.Equal(block.X3, Philox.Word(seed, 17, 11));
        Assert.Equal(block.X0, Philox.Word(seed, 17, 8));
    }

    [Fact]
    public void GeneratorHandsOutDisjointRanges()
    {
        var g = new Generator(42);
        var (seed, first) = g.Reserve(10);
        var (_, second) = g.Reserve(3);
        Assert.Equal(42ul, seed);
        Assert.Equal(0ul, first);
        Assert.Equal(10ul, second);
        Assert.Equal(13ul, g.Offset);
        // An f32 uniform fill of 9 elements needs 10 words (whole normal pairs) = 3 blocks; f64 needs 20 words = 5.
        Assert.Equal(3ul, RandomSampling.BlocksFor(9, RandomSampling.WordsPerElement(RandomDistribution.Uniform, DType.F32)));
        Assert.Equal(5ul, RandomSampling.BlocksFor(9, RandomSampling.WordsPerElement(RandomDistribution.Uniform, DType.F64)));
    }

    [Fact]
    public void StateRoundTripsAndManualSeedRewinds()
    {
        var g = new Generator(7);
        using var a0 = Tensor.Rand(new Shape(5), g);
        var state = g.GetState();
        using var a1 = Tensor.Rand(new Shape(5), g);
        g.SetState(state);
        using var a2 = Tensor.Rand(new Shape(5), g);
        Assert.Equal(a1.ToArray<float>(), a2.ToArray<float>());
        Assert.NotEqual(a0.ToArray<float>(), a1.ToArray<float>());
        g.ManualSeed(7);
        using var b0 = Tensor.Rand(new Shape(5), g);
        Assert.Equal(a0.ToArray<float>(), b0.ToArray<float>());
    }

    [Fact]
    public void ElementIDrawsFromBlockOffsetPlusIOver4()
    {
        var g = new Generator(123);
        g.Reserve(5);
        using var t = Tensor.Rand(new Shape(11), g);
        var values = t.ToArray<float>();
        for (int i = 0; i < values.Length; i++)
        {
            uint w = Philox.Compute(123, 5 + (ulong)(i / 4))[i % 4];
            Assert.Equal((w >> 8) / 16777216f, values[i]);
        }
    }

    [Fact]
    public void NormalCdfAndQuantileInvertEachOther()
    {
        // Known values: Φ(0) = 1/2, Φ(1.959963984540054) = 0.975, Φ(-3) = 0.0013498980316300946.
        Assert.Equal(0.5, NormalDistribution.Cdf(0));
        Assert.Equal(0.975, NormalDistribution.Cdf(1.959963984540054), 14);
        Assert.Equal(0.0013498980316300946, NormalDistribution.Cdf(-3), 15);
        Assert.Equal(1.959963984540054, NormalDistribution.Quantile(0.975), 12);
        foreach (double z in new[] { -30, -8.5, -5.1, -3, -1.2, -0.3, 0, 0.7, 2.2, 4.9, 6 })
        {
            double p = NormalDistribution.Cdf(z);
            double back = z < 0 ? NormalDistribution.Quantile(p) : -NormalDistribution.Quantile(NormalDistribution.Cdf(-z));
            Assert.True(Math.Abs(back - z) < 1e-9 * Math.Max(1, Math.Abs(z)), $"Quantile(Cdf({z})) = {back}");
        }
        Assert.Equal(double.NegativeInfinity, NormalDistribution.Quantile(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => NormalDistribution.Quantile(1.5));
    }
}
