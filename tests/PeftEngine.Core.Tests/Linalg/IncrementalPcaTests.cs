using static PeftEngine.Tests.LinalgTestHelpers;

namespace PeftEngine.Tests;

public class IncrementalPcaTests
{
    /// <summary>Rows 0..n of a rank-3 signal plus an offset, as (n, 10).</summary>
    private static Tensor LowRankData(int n)
    {
        using var coeffs = TestData.Uniform(1, new Shape(n, 3));
        using var basis = TestData.Uniform(2, new Shape(3, 10));
        using var signal = Ops.MatMul(coeffs, basis);
        using var offset = TestData.Uniform(3, new Shape(10), lo: 2, hi: 3);
        return Ops.Add(signal, offset);
    }

    private static Tensor Projector(Tensor rows)
    {
        using var t = Ops.Transpose(rows, 0, 1);
        return Ops.MatMul(t, rows);
    }

    [Fact]
    public void StreamingMatchesTheFullPcaOnLowRankData()
    {
        using var data = LowRankData(30);
        using var pca = new IncrementalPca(3);
        foreach (var (start, len) in new[] { (0, 7), (7, 13), (20, 10) })
        {
            using var batch = Ops.Narrow(data, 0, start, len);
            pca.Update(batch);
        }
        Assert.Equal(30, pca.SamplesSeen);

        using var mean = Ops.Mean(data, 0);
        using var centered = Ops.Sub(data, mean);
        using var full = Linalg.Svd(centered);
        using var top = Ops.Slice(full.S, 0, 0, 3);
        TestData.AssertClose(top.ToArray<double>(), pca.SingularValues.ToArray<double>(), 1e-10, 1e-10);
        Assert.True(MaxAbsDiff(mean, pca.Mean) < 1e-12);
        using var vTop = Ops.Slice(full.Vh, 0, 0, 3);
        using var expected = Projector(vTop);
        using var got = Projector(pca.Components);
        Assert.True(MaxAbsDiff(expected, got) < 1e-10); // same subspace (signs may differ)
        using var variance = pca.ExplainedVariance();
        Assert.Equal(Math.Pow(top.ToArray<double>()[0], 2) / 29, variance.ToArray<double>()[0], 10);
    }

    [Fact]
    public void UncenteredKeepsEveryDirectionWhenRankSuffices()
    {
        using var data = TestData.Uniform(5, new Shape(24, 6), DType.F32);
        using var pca = new IncrementalPca(6, center: false);
        for (int i = 0; i < 24; i += 5)
        {
            using var batch = Ops.Narrow(data, 0, i, Math.Min(5, 24 - i));
            pca.Update(batch);
        }
        using var s = Linalg.SvdVals(data);
        TestData.AssertClose(s.ToDoubleArray(), pca.SingularValues.ToDoubleArray(), 1e-5, 1e-5);
        using var projected = pca.Transform(data);
        Assert.Equal(new Shape(24, 6), projected.Shape);
    }

    [Fact]
    public void ApproximatesTheTopDirectionsOfNoisyData()
    {
        using var clean = LowRankData(60);
        using var noise = TestData.Uniform(9, new Shape(60, 10), lo: -1e-3, hi: 1e-3);
        using var data = Ops.Add(clean, noise);
        using var pca = new IncrementalPca(3);
        for (int i = 0; i < 60; i += 15)
        {
            using var batch = Ops.Narrow(data, 0, i, 15);
            pca.Update(batch);
        }
        using var mean = Ops.Mean(data, 0);
        using var centered = Ops.Sub(data, mean);
        using var full = Linalg.SvdVals(centered);
        TestData.AssertClose(full.ToArray<double>()[..3], pca.SingularValues.ToArray<double>(), 1e-3, 1e-3);
    }

    [Fact]
    public void RejectsMismatchedFeatureCounts()
    {
        using var pca = new IncrementalPca(2);
        Assert.Throws<InvalidOperationException>(() => pca.Components);
        using var a = TestData.Uniform(1, new Shape(4, 5));
        pca.Update(a);
        using var b = TestData.Uniform(2, new Shape(4, 6));
        Assert.Contains("features", Assert.Throws<ArgumentException>(() => pca.Update(b)).Message);
    }
}
