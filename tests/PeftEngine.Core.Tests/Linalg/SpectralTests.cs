using static PeftEngine.Tests.LinalgTestHelpers;

namespace PeftEngine.Tests;

public class SpectralTests
{
    /// <summary>The DFT from its definition, on (n, 2) pairs.</summary>
    private static double[] NaiveDft(double[] z, int n, int sign)
    {
        var y = new double[2 * n];
        for (int k = 0; k < n; k++)
            for (int j = 0; j < n; j++)
            {
                double ang = sign * 2 * Math.PI * j * k / n;
                y[2 * k] += z[2 * j] * Math.Cos(ang) - z[2 * j + 1] * Math.Sin(ang);
                y[2 * k + 1] += z[2 * j] * Math.Sin(ang) + z[2 * j + 1] * Math.Cos(ang);
            }
        return y;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(8)]
    [InlineData(5)]   // Bluestein
    [InlineData(12)]  // Bluestein, even
    [InlineData(31)]
    public void FftMatchesTheDefinitionAndInverts(int n)
    {
        using var x = TestData.Uniform(n, new Shape(3, n, 2));
        using var y = Spectral.Fft(x);
        var xs = x.ToArray<double>();
        var ys = y.ToArray<double>();
        for (int r = 0; r < 3; r++)
        {
            var expected = NaiveDft(xs[(r * 2 * n)..((r + 1) * 2 * n)], n, -1);
            TestData.AssertClose(expected, ys[(r * 2 * n)..((r + 1) * 2 * n)], 1e-12, 1e-12);
        }
        using var back = Spectral.Ifft(y);
        Assert.True(MaxAbsDiff(x, back) < 1e-13);
    }

    [Fact]
    public void KnownTransforms()
    {
        // an impulse transforms to all ones; a constant to n times an impulse
        using var impulse = Tensor.FromArray(new double[] { 1, 0, 0, 0, 0, 0 }, 3, 2);
        using var fi = Spectral.Fft(impulse);
        TestData.AssertClose([1, 0, 1, 0, 1, 0], fi.ToArray<double>(), 1e-15);
        using var ones = Tensor.FromArray(new double[] { 1, 0, 1, 0, 1, 0, 1, 0 }, 4, 2);
        using var fo = Spectral.Fft(ones);
        TestData.AssertClose([4, 0, 0, 0, 0, 0, 0, 0], fo.ToArray<double>(), 1e-15);
        // rfft of [1, 2, 3, 4] = [10, -2 + 2i, -2]
        using var r = Tensor.FromArray(new double[] { 1, 2, 3, 4 });
        using var fr = Spectral.Rfft(r);
        TestData.AssertClose([10, 0, -2, 2, -2, 0], fr.ToArray<double>(), 1e-14);
    }

    [Theory]
    [InlineData(8)]
    [InlineData(9)]
    public void RfftIrfftRoundTripAndParseval(int n)
    {
        using var x = TestData.Uniform(3, new Shape(2, n));
        using var f = Spectral.Rfft(x);
        Assert.Equal(new Shape(2, n / 2 + 1, 2), f.Shape);
        using var back = Spectral.Irfft(f, n);
        Assert.True(MaxAbsDiff(x, back) < 1e-13);

        using var z = Spectral.Complex(x, x);
        using var fz = Spectral.Fft(z);
        using var sx = Ops.Square(z);
        using var sf = Ops.Square(fz);
        using var ex = Ops.Sum(sx);
        using var ef = Ops.Sum(sf);
        Assert.Equal(ex.Item(), ef.Item() / n, 10); // Parseval: Σ|x|² = Σ|X|²/n
    }

    [Fact]
    public void Fft2IsSeparableAndInverts()
    {
        using var x = TestData.Uniform(4, new Shape(2, 6, 8, 2), DType.F32);
        using var f2 = Spectral.Fft2(x);
        using var rows = Spectral.Fft(x);
        using var t = Ops.Transpose(rows, -3, -2);
        using var cols = Spectral.Fft(t);
        using var expected = Ops.Transpose(cols, -3, -2);
        Assert.True(MaxAbsDiff(expected, f2) < 1e-5);
        using var back = Spectral.Ifft2(f2);
        Assert.Equal(DType.F32, back.DType);
        Assert.True(MaxAbsDiff(x, back) < 1e-5);
    }

    [Fact]
    public void FftGradients()
    {
        TestData.AssertGradients(x => Spectral.Fft(x[0]), [TestData.Param(1, 2, 6, 2)]);
        TestData.AssertGradients(x => Spectral.Ifft(x[0]), [TestData.Param(2, 8, 2)]);
        TestData.AssertGradients(x => Spectral.Fft2(x[0]), [TestData.Param(3, 3, 4, 2)]);
        TestData.AssertGradients(x => Spectral.Rfft(x[0]), [TestData.Param(4, 2, 7)]);
        TestData.AssertGradients(x => Spectral.Irfft(x[0], 6), [TestData.Param(5, 4, 2)]);
        TestData.AssertGradients(x => { using var t = Ops.Transpose(x[0], 0, 1); return Spectral.Fft(t); }, [TestData.Param(6, 5, 3, 2)]);
    }

    [Fact]
    public void FourierFtStyleUpdateTrainsThroughTheRealPartOfIfft2()
    {
        // ΔW = Re(ifft2(S)) where S is zero except at a few chosen frequencies carrying trainable coefficients
        using var idx = Tensor.FromArray(new long[] { 1, 7, 10, 14 }, 4);
        TestData.AssertGradients(x =>
        {
            using var zeros = Tensor.Zeros(new Shape(16), DType.F64);
            using var re = Ops.ScatterAdd(zeros, 0, idx, x[0]);     // sparse real spectrum, flat (16)
            using var im = Tensor.Zeros(new Shape(16), DType.F64);
            using var z = Spectral.Complex(re, im);                  // (16, 2)
            using var s = Ops.Reshape(z, 4, 4, 2);                   // (16, 2) -> (4, 4, 2)
            using var w = Spectral.Ifft2(s);
            return Spectral.Real(w);
        }, [TestData.Param(7, 4)]);
    }

    [Fact]
    public void NonComplexInputsAreRejected()
    {
        using var x = TestData.Uniform(1, new Shape(4, 3));
        var ex = Assert.Throws<ArgumentException>(() => Spectral.Fft(x));
        Assert.Contains("Fft", ex.Message);
        Assert.Contains("(4, 3)", ex.Message);
        using var h = TestData.Uniform(1, new Shape(3, 2));
        Assert.Throws<ArgumentException>(() => Spectral.Irfft(h, 7));
    }
}
