namespace PeftEngine.Tests;

public class RandomTests
{
    [Fact]
    public void RandomFillsMatchTheReferenceStream()
    {
        var cases = new (RandomDistribution Dist, DType DType, double A, double B)[]
        {
            (RandomDistribution.Uniform, DType.F32, -2, 3), (RandomDistribution.Uniform, DType.F64, -2, 3),
            (RandomDistribution.Normal, DType.F32, 1, 0.5), (RandomDistribution.Normal, DType.F64, 1, 0.5),
            (RandomDistribution.Bernoulli, DType.U8, 0.3, 1), (RandomDistribution.Bernoulli, DType.F32, 0.7, 2),
            (RandomDistribution.Integer, DType.I64, -5, 1000), (RandomDistribution.Integer, DType.I32, 3, 9),
        };
        using var seedTensor = Tensor.Zeros(new Shape(1));
        GpuParity.Check([seedTensor], t => cases.Select(c =>
        {
            var y = Tensor.Empty(new Shape(5, 7), c.DType, t[0].Device);   // odd count: the last normal pair is half used
            t[0].Backend.FillRandom(y, c.Dist, 1234, 17, c.A, c.B);
            return y;
        }).ToArray(), 1e-12, 1e-12);
    }
}
