using PeftEngine.Cpu;

namespace PeftEngine.Tests;

public class SpecialFunctionsTests
{
    // Reference values computed with 30-digit arithmetic.
    [Theory]
    [InlineData(0.5, 0.5204998778130465)]
    [InlineData(1.0, 0.8427007929497149)]
    [InlineData(2.0, 0.9953222650189527)]
    [InlineData(3.0, 0.9999779095030014)]
    [InlineData(1e-10, 1.1283791670955126e-10)]
    [InlineData(6.0, 1.0)]
    public void ErfMatchesKnownValues(double x, double expected)
    {
        AssertRelative(expected, SpecialFunctions.Erf(x), 2e-15);
        AssertRelative(-expected, SpecialFunctions.Erf(-x), 2e-15);
    }

    [Theory]
    [InlineData(-1.0, 1.8427007929497149)]
    [InlineData(0.5, 0.4795001221869535)]
    [InlineData(5.0, 1.5374597944280349e-12)]
    [InlineData(10.0, 2.088487583762545e-45)]
    [InlineData(20.0, 5.395865611607901e-176)]
    public void ErfcKeepsRelativeAccuracyInTheTail(double x, double expected) =>
        AssertRelative(expected, SpecialFunctions.Erfc(x), 3e-15);

    [Fact]
    public void ErfIsOddAndHandlesSpecialValues()
    {
        for (double x = 0; x < 7; x += 0.013)
            Assert.Equal(-SpecialFunctions.Erf(x), SpecialFunctions.Erf(-x));
        Assert.Equal(1.0, SpecialFunctions.Erf(double.PositiveInfinity));
        Assert.Equal(-1.0, SpecialFunctions.Erf(double.NegativeInfinity));
        Assert.Equal(0.0, SpecialFunctions.Erfc(double.PositiveInfinity));
        Assert.Equal(2.0, SpecialFunctions.Erfc(double.NegativeInfinity));
        Assert.True(double.IsNaN(SpecialFunctions.Erf(double.NaN)));
        Assert.True(double.IsNegative(SpecialFunctions.Erf(-0.0)));
    }

    [Fact]
    public void ErfAndErfcAreConsistentAcrossTheSwitchPoints()
    {
        // erf + erfc = 1 on both sides of the places where the method changes (z = 1 and z = 2.5).
        foreach (double x in new[] { 0.999999, 1.0, 1.000001, 2.499999, 2.5, 2.500001, 0.3, 1.7, 4.2 })
            Assert.Equal(1.0, SpecialFunctions.Erf(x) + SpecialFunctions.Erfc(x), 15);
    }

    [Fact]
    public void NormalCdfIsAccurateInTheLowerTail()
    {
        AssertRelative(7.619853024160526e-24, SpecialFunctions.NormalCdf(-10), 3e-15);
        AssertRelative(0.8413447460685429, SpecialFunctions.NormalCdf(1), 2e-15);
        Assert.Equal(0.5, SpecialFunctions.NormalCdf(0));
    }

    [Fact]
    public void SinglePrecisionErfTracksDoublePrecision()
    {
        for (int i = -3000; i <= 3000; i++)
        {
            float x = i * 0.002f;
            double exact = SpecialFunctions.Erf((double)x);
            double err = Math.Abs(SpecialFunctions.Erf(x) - exact);
            Assert.True(err <= 3e-7 * Math.Abs(exact) + 1e-30, $"erf({x}): float {SpecialFunctions.Erf(x)}, double {exact}");
            double exactC = SpecialFunctions.Erfc((double)x);
            double errC = Math.Abs(SpecialFunctions.Erfc(x) - exactC);
            Assert.True(errC <= 5e-6 * exactC, $"erfc({x}): float {SpecialFunctions.Erfc(x)}, double {exactC}");
        }
        Assert.Equal(1f, SpecialFunctions.Erf(float.PositiveInfinity));
        Assert.True(float.IsNaN(SpecialFunctions.Erf(float.NaN)));
    }

    private static void AssertRelative(double expected, double actual, double rtol) =>
        Assert.True(Math.Abs(actual - expected) <= rtol * Math.Abs(expected),
            $"expected {expected:R}, got {actual:R} (relative error {Math.Abs(actual - expected) / Math.Abs(expected):E2})");
}
