using static PeftEngine.Tests.LinalgTestHelpers;

namespace PeftEngine.Tests;

public class RandomizedSvdTests
{
    [Fact]
    public void RecoversTheTopTripletsOfALowRankPlusNoiseMatrix()
    {
        var sigma = new double[20];
        for (int i = 0; i < 20; i++) sigma[i] = i < 5 ? 10 - i : 1e-3 * (20 - i);
        using var a = WithSingularValues(4, 40, 20, sigma);
        using var svd = Linalg.RandomizedSvd(a, rank: 5, oversampling: 5, niter: 2, generator: new Generator(7));
        Assert.Equal(new Shape(40, 5), svd.U.Shape);
        Assert.Equal(new Shape(5, 20), svd.Vh.Shape);
        TestData.AssertClose(sigma[..5], svd.S.ToArray<double>(), 1e-6, 1e-6);
        AssertOrthonormalColumns(svd.U, 1e-12);

        // the same generator seed gives the same result
        using var again = Linalg.RandomizedSvd(a, 5, 5, 2, new Generator(7));
        Assert.Equal(svd.U.ToArray<double>(), again.U.ToArray<double>());
    }

    [Fact]
    public void ExactOnAMatrixOfTheRequestedRank()
    {
        using var a = WithSingularValues(9, 30, 12, [6, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        using var a32 = a.To(DType.F32);
        using var svd = Linalg.RandomizedSvd(a32, 3, oversampling: 2, niter: 0, generator: new Generator(1));
        using var back = Reconstruct(svd.U, svd.S, svd.Vh);
        Assert.True(MaxAbsDiff(a32, back) < 1e-5);
        Assert.Throws<ArgumentOutOfRangeException>(() => Linalg.RandomizedSvd(a, 13));
    }
}
