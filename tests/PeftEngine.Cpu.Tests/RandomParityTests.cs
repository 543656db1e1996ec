using PeftEngine.Cpu;

namespace PeftEngine.Tests;

public class RandomParityTests
{
    public static TheoryData<RandomDistribution, DType, double, double> Fills() => new()
    {
        { RandomDistribution.Uniform, DType.F32, -1.5, 2.25 },
        { RandomDistribution.Uniform, DType.F64, -1.5, 2.25 },
        { RandomDistribution.Normal, DType.F32, 0.5, 3 },
        { RandomDistribution.Normal, DType.F64, 0.5, 3 },
        { RandomDistribution.TruncatedNormal, DType.F32, -1, 2.5 },
        { RandomDistribution.TruncatedNormal, DType.F64, -1, 2.5 },
        { RandomDistribution.Bernoulli, DType.F32, 0.3, 1 / 0.7 },
        { RandomDistribution.Bernoulli, DType.F64, 0.3, 1 / 0.7 },
        { RandomDistribution.Bernoulli, DType.U8, 0.6, 1 },
        { RandomDistribution.Integer, DType.I64, -5, 1000 },
        { RandomDistribution.Integer, DType.I32, 3, 17 },
    };

    /// <summary>Counters start just below 2^32, so the blocks of one fill cross into the counter's high word.</summary>
    private const ulong Offset = 0xFFFF_FF00;

    private static double[] Fill(Device device, RandomDistribution d, DType dtype, double a, double b, int n)
    {
        using var t = Tensor.Empty(new Shape(n), dtype, device);
        t.Backend.FillRandom(t, d, seed: 0xDEADBEEF_12345678, Offset, a, b);
        return t.ToDoubleArray();
    }

    [Theory]
    [MemberData(nameof(Fills))]
    public void FastFillEqualsReferenceBitForBit(RandomDistribution d, DType dtype, double a, double b)
    {
        // 70001 elements: an odd count, 18 chunks (several threads), a partial last chunk and a lone last normal.
        foreach (int n in new[] { 1, 7, 70_001 })
            Assert.Equal(Fill(Device.CpuReference, d, dtype, a, b, n), Fill(Device.Cpu, d, dtype, a, b, n));
    }

    [Theory]
    [MemberData(nameof(Fills))]
    public void ResultsDoNotDependOnTheThreadCount(RandomDistribution d, DType dtype, double a, double b)
    {
        int saved = CpuParallel.Threads;
        try
        {
            CpuParallel.Threads = 1;
            var one = Fill(Device.Cpu, d, dtype, a, b, 50_003);
            CpuParallel.Threads = 2;
            var two = Fill(Device.Cpu, d, dtype, a, b, 50_003);
            Assert.Equal(one, two);
        }
        finally { CpuParallel.Threads = saved; }
    }

    [Fact]
    public void FactoriesAgreeAcrossBackendsAndStridedViews()
    {
        using var fast = Tensor.Randn(new Shape(33, 65), new Generator(5));
        using var reference = Tensor.Randn(new Shape(33, 65), new Generator(5), device: Device.CpuReference);
        Assert.Equal(reference.ToArray<float>(), fast.ToArray<float>());

        using var baseT = Tensor.Zeros(new Shape(65, 33), DType.F64);
        using var view = baseT.Transpose(0, 1);
        Ops.UniformInPlace(view, -1, 1, new Generator(6));
        using var baseR = Tensor.Zeros(new Shape(65, 33), DType.F64, Device.CpuReference);
        using var viewR = baseR.Transpose(0, 1);
        Ops.UniformInPlace(viewR, -1, 1, new Generator(6));
        Assert.Equal(viewR.ToArray<double>(), view.ToArray<double>());
    }

    [Theory]
    [InlineData(0ul)]
    [InlineData(0xFFFF_FFFDul)]          // the low counter word wraps inside the fill
    [InlineData(ulong.MaxValue - 2)]     // the whole 64-bit counter wraps
    public void VectorisedPhiloxEqualsTheScalarDefinition(ulong first)
    {
        ulong seed = 0x0123_4567_89AB_CDEF;
        for (int blocks = 0; blocks <= 37; blocks++) // the 16-, 4- (or 8-, 2-) block loops and the scalar tail
        {
            var words = new uint[blocks * 4];
            PhiloxKernel.Fill(seed, first, words);
            for (int k = 0; k < words.Length; k++)
                Assert.Equal(Philox.Word(seed, first, k), words[k]);
        }
    }
}
