using System.Numerics;

namespace PeftEngine.Gpu.Kernels;

/// <summary>Scalar functions used inside kernels, written so they compile for the GPU (no library calls that
/// ILGPU cannot translate) and stay accurate in the tails, like the reference definitions.</summary>
internal static class DeviceMath
{
    private const double TwoOverSqrtPi = 1.1283791670955126;
    private const double InvSqrtPi = 0.5641895835477563;
    private const double InvSqrtTwo = 0.7071067811865476;
    private const double InvSqrtTwoPi = 0.3989422804014327;

    /// <summary>The logistic function, without overflow of e^x for either sign of x.</summary>
    public static T Sigmoid<T>(T x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x >= T.Zero) return T.One / (T.One + T.Exp(-x));
        T e = T.Exp(x);
        return e / (T.One + e);
    }

    /// <summary>max(a, b) that returns NaN when either is NaN and prefers +0 over -0 (IEEE 754-2019 maximum).</summary>
    public static T Maximum<T>(T a, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (T.IsNaN(a) || T.IsNaN(b)) return T.NaN;
        if (a == b) return T.IsNegative(a) ? b : a;
        return a > b ? a : b;
    }

    /// <summary>min(a, b) that returns NaN when either is NaN and prefers -0 over +0 (IEEE 754-2019 minimum).</summary>
    public static T Minimum<T>(T a, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (T.IsNaN(a) || T.IsNaN(b)) return T.NaN;
        if (a == b) return T.IsNegative(a) ? a : b;
        return a < b ? a : b;
    }

    /// <summary>erfc(x) for x ≥ 2.5 by its continued fraction e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))).</summary>
    private static double ErfcLarge(double x)
    {
        double f = x;
        for (int k = 80; k >= 1; k--) f = x + 0.5 * k / f;
        return Math.Exp(-x * x) * InvSqrtPi / f;
    }

    /// <summary>erf(x) by its Taylor series 2/√π Σ (-1)^n x^{2n+1} / (n! (2n+1)) for |x| &lt; 2.5.</summary>
    private static double ErfSeries(double x)
    {
        double x2 = x * x, term = x, sum = x;
        for (int n = 1; n < 90; n++)
        {
            term *= -x2 / n;
            double add = term / (2 * n + 1);
            sum += add;
            if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
        }
        return TwoOverSqrtPi * sum;
    }

    /// <summary>The error function.</summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double ax = Math.Abs(x);
        if (ax < 2.5) return ErfSeries(x);
        double r = 1 - ErfcLarge(ax);
        return x < 0 ? -r : r;
    }

    /// <summary>The complementary error function 1 - erf(x), accurate in the right tail.</summary>
    public static double Erfc(double x)
    {
        if (double.IsNaN(x)) return x;
        if (x >= 2.5) return ErfcLarge(x);
        if (x <= -2.5) return 2 - ErfcLarge(-x);
        return 1 - ErfSeries(x);
    }

    /// <summary>The standard normal CDF Φ(x) = erfc(-x/√2)/2.</summary>
    public static double NormalCdf(double x) => 0.5 * Erfc(-x * InvSqrtTwo);

    /// <summary>The standard normal density φ(x).</summary>
    public static double NormalPdf(double x) => InvSqrtTwoPi * Math.Exp(-0.5 * x * x);

    /// <summary>d/dx erf(x) = 2/√π e^{-x²}.</summary>
    public static double ErfDerivative(double x) => TwoOverSqrtPi * Math.Exp(-x * x);
}
