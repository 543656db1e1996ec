namespace PeftEngine.Cpu;

/// <summary>
/// Special functions the runtime lacks: the error function erf, its complement erfc and the standard normal
/// CDF Φ, in double precision (about 1e−15 relative error) and in single precision (short polynomial forms
/// that vectorize; see <see cref="VectorMath"/>).
/// </summary>
/// <remarks>
/// Double precision uses two classic expansions, each where it converges fast:
/// <list type="bullet">
/// <item>the series erf(z) = (2/√π) z e^(−z²) Σₙ (2z²)ⁿ / (1·3·5···(2n+1)) for small z: every term is
/// positive, so there is no cancellation (at most ~40 terms below z = 2.5);</item>
/// <item>Laplace's continued fraction for erfc(z) for larger z, in its even (contracted) form
/// erfc(z) = (e^(−z²)/√π) · 2z / (2z²+1 − 1·2/(2z²+5 − 3·4/(2z²+9 − ...))), evaluated from its tail
/// backwards (at most ~110 terms from z = 1).</item>
/// </list>
/// e^(−z²) is computed from z² split into a rounded part and its rounding error, so large z keeps full
/// relative accuracy.
/// <para>Single precision uses two polynomial fits: erf(z) = z·S(z²) below z = 1, and the scaled complement
/// e^(z²) erfc(z) = t·Q(t), t = 1/(1 + 0.4z), everywhere else. Neither needs a loop or a branch, so the SIMD
/// kernels evaluate them lane by lane and select.</para>
/// </remarks>
public static class SpecialFunctions
{
    private const double TwoOverSqrtPi = 1.1283791670955126;   // 2/√π
    private const double OneOverSqrtPi = 0.5641895835477563;   // 1/√π
    private const double SqrtHalf = 0.7071067811865476;        // 1/√2

    // Below this the series gives erf; above it erf = 1 − erfc.
    private const double ErfSeriesLimit = 2.5;
    // Below this erfc = 1 − erf (erf ≤ 0.85, so at most a few ulp are lost); above it the continued fraction.
    private const double ErfcFractionStart = 1.0;
    // erfc(27) ≈ 5e−319 is below the smallest normal double.
    private const double ErfcUnderflow = 27.0;

    /// <summary>The error function erf(x) = 2/√π ∫₀ˣ e^(−t²) dt, accurate to about 1e−15 relative.</summary>
    /// <remarks>PyTorch: torch.erf.</remarks>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double z = Math.Abs(x);
        double e = ExpMinusSquare(z);
        double r = z < ErfSeriesLimit ? ErfSeries(z, e) : 1 - ErfcFraction(z, e);
        return Math.CopySign(r, x);
    }

    /// <summary>The complementary error function erfc(x) = 1 − erf(x), accurate to about 2e−15 relative
    /// also where it is tiny (large x).</summary>
    /// <remarks>PyTorch: torch.erfc.</remarks>
    public static double Erfc(double x)
    {
        if (double.IsNaN(x)) return x;
        double z = Math.Abs(x);
        double e = ExpMinusSquare(z);
        double r = z < ErfcFractionStart ? 1 - ErfSeries(z, e) : ErfcFraction(z, e);
        return x < 0 ? 2 - r : r;
    }

    /// <summary>The standard normal cumulative distribution Φ(x) = ½ erfc(−x/√2), accurate in both tails.</summary>
    /// <remarks>
    /// e^(−z²) for z = x/√2 is taken as e^(−x²/2) straight from x: rounding x/√2 first would cost up to x²/2 ulp
    /// in the far tail (Φ(−10) is that sensitive). For x ≥ 0, Φ = ½ + ½ erf(z) (the cheaper series); for
    /// x &lt; 0, Φ = ½ erfc(z), which keeps the relative accuracy of the small result.
    /// </remarks>
    public static double NormalCdf(double x)
    {
        if (double.IsNaN(x)) return x;
        double z = Math.Abs(x) * SqrtHalf;
        double e = ExpMinusHalfSquare(x);
        if (x >= 0) return 0.5 + 0.5 * (z < ErfSeriesLimit ? ErfSeries(z, e) : 1 - ErfcFraction(z, e));
        return 0.5 * (z < ErfcFractionStart ? 1 - ErfSeries(z, e) : ErfcFraction(z, e));
    }

    /// <summary>The standard normal density φ(x) = e^(−x²/2) / √(2π).</summary>
    public static double NormalPdf(double x) => 0.3989422804014327 * ExpMinusHalfSquare(x);

    /// <summary>erf(z) for 0 ≤ z &lt; 2.5 from the all-positive series; <paramref name="expMinusZ2"/> = e^(−z²).</summary>
    private static double ErfSeries(double z, double expMinusZ2)
    {
        double q = 2 * z * z, term = 1, sum = 1;
        for (int n = 1; n < 100; n++)
        {
            term *= q / (2 * n + 1);   // (2z²)ⁿ / (1·3···(2n+1))
            sum += term;
            if (term < 1e-17 * sum) break;
        }
        return TwoOverSqrtPi * z * expMinusZ2 * sum;
    }

    /// <summary>erfc(z) for z ≥ 1 from the even continued fraction, evaluated from its tail backwards;
    /// <paramref name="expMinusZ2"/> = e^(−z²).</summary>
    private static double ErfcFraction(double z, double expMinusZ2)
    {
        if (z >= ErfcUnderflow) return 0;
        // f = b0 + a1/(b1 + a2/(b2 + ...)) with b_n = 2z² + 1 + 4n and a_n = −(2n−1)(2n), cut after term N.
        // The fraction converges faster for larger z: N = 100/z² + 12 terms reach full double precision
        // from z = 1 on (112 terms there, 16 at z = 5). Evaluating from the tail towards b0 keeps the rounding
        // error to a few ulp.
        double twoZ2 = 2 * z * z;
        int terms = (int)Math.Ceiling(100 / (z * z)) + 12;
        double f = twoZ2 + 1 + 4.0 * terms;
        for (int n = terms - 1; n >= 0; n--)
            f = twoZ2 + 1 + 4.0 * n - (2.0 * n + 1) * (2.0 * n + 2) / f;
        return OneOverSqrtPi * expMinusZ2 * 2 * z / f;
    }

    /// <summary>e^(−z²) with z² taken exactly as hi + lo (lo = the rounding error of z·z, found with a fused
    /// multiply-add), so the result keeps full relative accuracy even where z² is large.</summary>
    internal static double ExpMinusSquare(double z)
    {
        double hi = z * z;
        double lo = Math.FusedMultiplyAdd(z, z, -hi);
        return Math.Exp(-hi) * (1 - lo);   // e^(−lo) = 1 − lo to double precision, as |lo| ≤ ulp(hi)/2
    }

    /// <summary>e^(−x²/2), as accurately as <see cref="ExpMinusSquare"/> (halving is exact).</summary>
    internal static double ExpMinusHalfSquare(double x)
    {
        double hi = x * x;
        double lo = Math.FusedMultiplyAdd(x, x, -hi);
        return Math.Exp(-0.5 * hi) * (1 - 0.5 * lo);
    }

    // ---- Single precision: short polynomial forms (the same ones the SIMD kernels use) ----

    /// <summary>erf(z) = z · S(z²) for 0 ≤ z &lt; 1; S has degree 6 (coefficients highest first).</summary>
    /// <remarks>A Chebyshev fit of erf(√u)/√u on u ∈ [0, 1]; its largest relative error is 1.3e−9.</remarks>
    internal static ReadOnlySpan<float> ErfSmallCoefficients =>
    [
        7.8758750626854883e-5f, -0.00080168642871658695f, 0.005189087423433974f, -0.026854212010626412f,
        0.11283594715160218f, -0.37612626666720331f, 1.1283791658483509f,
    ];

    /// <summary>e^(z²) erfc(z) = t · Q(t) with t = 1 / (1 + 0.4 z), for every z ≥ 0; Q has degree 10.</summary>
    /// <remarks>A Chebyshev fit of e^(z²) erfc(z) / t on z ∈ [0, 10] (t ∈ [0.2, 1]); with the coefficients
    /// rounded to single precision its largest relative error is 1.5e−8. Beyond z = 10 erfc underflows single
    /// precision, so Q is evaluated at z = 10 there.</remarks>
    internal static ReadOnlySpan<float> ErfcScaledCoefficients =>
    [
        -0.015730949435437025f, 0.061826405008530041f, -0.034846026476241456f, -0.15711067440626503f,
        0.22812908841192856f, -0.086185987316657692f, 0.18946927220301979f, 0.15247153727591413f,
        0.2109385251468916f, 0.22534907350001721f, 0.22568973515720568f,
    ];

    /// <summary>The p in t = 1 / (1 + p z) of the single-precision erfc form.</summary>
    internal const float ErfcScaledP = 0.4f;

    /// <summary>Where single-precision erf switches from z·S(z²) to 1 − erfc(z).</summary>
    internal const float ErfSmallLimit = 1f;

    /// <summary>The largest z at which Q is evaluated.</summary>
    internal const float ErfcClamp = 10f;

    /// <summary>erf(x) in single precision, about 2e−7 relative error (the rounding of float arithmetic).</summary>
    public static float Erf(float x)
    {
        float z = MathF.Abs(x);
        float r = z < ErfSmallLimit ? z * Horner(ErfSmallCoefficients, z * z) : 1 - ErfcScaled(z) * MathF.Exp(-z * z);
        return MathF.CopySign(r, x);
    }

    /// <summary>erfc(x) in single precision, about 1e−6 relative error including the far tail (where the
    /// rounding of z² in e^(−z²) dominates).</summary>
    public static float Erfc(float x)
    {
        float z = MathF.Abs(x);
        float r = ErfcScaled(z) * MathF.Exp(-z * z);
        return x < 0 ? 2 - r : r;
    }

    /// <summary>e^(z²) erfc(z) for z ≥ 0 in single precision.</summary>
    internal static float ErfcScaled(float z)
    {
        float t = 1 / (1 + ErfcScaledP * MathF.Min(z, ErfcClamp));
        return t * Horner(ErfcScaledCoefficients, t);
    }

    private static float Horner(ReadOnlySpan<float> c, float x)
    {
        float acc = c[0];
        for (int i = 1; i < c.Length; i++) acc = acc * x + c[i];
        return acc;
    }
}
