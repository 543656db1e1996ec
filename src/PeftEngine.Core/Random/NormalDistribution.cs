namespace PeftEngine;

/// <summary>The standard normal distribution's density, cumulative distribution and its inverse, in double.</summary>
/// <remarks>SciPy: scipy.stats.norm.pdf / cdf / ppf. Used to sample a truncated normal by inversion.</remarks>
public static class NormalDistribution
{
    private const double InvSqrt2Pi = 0.398942280401432677939946059934; // 1 / √(2π)

    /// <summary>φ(x) = e^(−x²/2) / √(2π).</summary>
    public static double Pdf(double x) => InvSqrt2Pi * Math.Exp(-0.5 * x * x);

    /// <summary>Φ(x) = P(Z ≤ x) for a standard normal Z, to about 1e-15 relative error (also far in the lower tail).</summary>
    public static double Cdf(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (x >= 1.5) return 1 - Cdf(-x);
        if (x > -1.5)
        {
            // Φ(x) = 1/2 + φ(x) · Σₙ x^(2n+1) / (1·3·5···(2n+1)); every term is the previous one times x²/(2n+1).
            double term = x, sum = x;
            for (int n = 1; n < 200 && Math.Abs(term) > 1e-17 * Math.Abs(sum); n++)
            {
                term *= x * x / (2 * n + 1);
                sum += term;
            }
            return 0.5 + Pdf(x) * sum;
        }
        if (x < -40) return 0;
        // Lower tail: Φ(x) = φ(x) / (t + 1/(t + 2/(t + 3/(t + ...)))) with t = −x (Laplace's continued fraction),
        // evaluated from a deep level upwards.
        double t = -x, f = t;
        for (int k = 200; k >= 1; k--) f = t + k / f;
        return Pdf(x) / f;
    }

    /// <summary>Φ⁻¹(p): the z with Φ(z) = p; −∞ at 0 and +∞ at 1. About 1e-16 relative accuracy.</summary>
    /// <remarks>Wichura's rational approximations (algorithm AS 241, PPND16, Applied Statistics 37(3), 1988):
    /// one for the centre |p − 1/2| ≤ 0.425, two for the tails in r = √(−ln min(p, 1 − p)).</remarks>
    public static double Quantile(double p)
    {
        if (double.IsNaN(p) || p < 0 || p > 1)
            throw new ArgumentOutOfRangeException(nameof(p), $"Quantile: probability must lie in [0, 1], got {p}");
        if (p == 0) return double.NegativeInfinity;
        if (p == 1) return double.PositiveInfinity;
        double q = p - 0.5;
        if (Math.Abs(q) <= 0.425)
        {
            double r = 0.180625 - q * q;
            return q * Poly(Centre.Num, r) / Poly(Centre.Den, r);
        }
        double rt = Math.Sqrt(-Math.Log(q < 0 ? p : 1 - p));
        double z = rt <= 5
            ? Poly(Near.Num, rt - 1.6) / Poly(Near.Den, rt - 1.6)
            : Poly(Far.Num, rt - 5) / Poly(Far.Den, rt - 5);
        return q < 0 ? -z : z;
    }

    /// <summary>c₀ + c₁x + c₂x² + ... by Horner's rule.</summary>
    private static double Poly(double[] c, double x)
    {
        double v = 0;
        for (int i = c.Length - 1; i >= 0; i--) v = v * x + c[i];
        return v;
    }

    // Coefficients of AS 241 (lowest power first).
    private static class Centre
    {
        public static readonly double[] Num =
        [
            3.3871328727963666080e0, 1.3314166789178437745e2, 1.9715909503065514427e3, 1.3731693765509461125e4,
            4.5921953931549871457e4, 6.7265770927008700853e4, 3.3430575583588128105e4, 2.5090809287301226727e3,
        ];
        public static readonly double[] Den =
        [
            1.0, 4.2313330701600911252e1, 6.8718700749205790830e2, 5.3941960214247511077e3,
            2.1213794301586595867e4, 3.9307895800092710610e4, 2.8729085735721942674e4, 5.2264952788528545610e3,
        ];
    }

    private static class Near
    {
        public static readonly double[] Num =
        [
            1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0, 3.64784832476320460504e0,
            1.27045825245236838258e0, 2.41780725177450611770e-1, 2.27238449892691845833e-2, 7.74545014278341407640e-4,
        ];
        public static readonly double[] Den =
        [
            1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
            1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4, 1.05075007164441684324e-9,
        ];
    }

    private static class Far
    {
        public static readonly double[] Num =
        [
            6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0, 2.96560571828504891230e-1,
            2.65321895265761230930e-2, 1.24266094738807843860e-3, 2.71155556874348757815e-5, 2.01033439929228813265e-7,
        ];
        public static readonly double[] Den =
        [
            1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
            7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7, 2.04426310338993978564e-15,
        ];
    }
}
