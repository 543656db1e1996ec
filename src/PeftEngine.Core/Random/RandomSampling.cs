using System.Runtime.CompilerServices;

namespace PeftEngine;

/// <summary>
/// How 32-bit Philox words become values: the one definition every backend's <see cref="IBackend.FillRandom"/>
/// follows bit for bit. A fill reads a stream of words (word k = word k % 4 of block offset + k / 4); element i
/// of an f32 fill reads word i, element i of an f64 fill reads words 2i and 2i + 1 (see <see cref="WordsPerElement"/>).
/// Normals come in pairs: elements 2j and 2j + 1 share the words of pair j.
/// </summary>
/// <remarks>
/// Float results are computed in float (f32 uniform: 24 random bits) or double (everything else) with plain
/// IEEE operations in a fixed order, so a vectorised kernel that repeats the same operations gets the same bits.
/// </remarks>
public static class RandomSampling
{
    /// <summary>2^-24: the spacing of 24-bit uniforms.</summary>
    public const float Inv2Pow24 = 1f / 16777216f;

    /// <summary>2^-53: the spacing of 53-bit uniforms.</summary>
    public const double Inv2Pow53 = 1.0 / 9007199254740992.0;

    /// <summary>32-bit words one element consumes: 2 for f64 reals and for integers, else 1.</summary>
    public static int WordsPerElement(RandomDistribution distribution, DType dtype) => distribution switch
    {
        RandomDistribution.Bernoulli => 1,
        RandomDistribution.Integer => 2,
        _ => dtype == DType.F64 ? 2 : 1,
    };

    /// <summary>Philox blocks a fill of <paramref name="numel"/> elements reads (the count is rounded up to whole
    /// normal pairs and whole blocks).</summary>
    public static ulong BlocksFor(long numel, int wordsPerElement)
    {
        long even = numel + (numel & 1);
        return (ulong)((even * wordsPerElement + 3) / 4);
    }

    /// <summary>A uniform float in [0, 1) from the top 24 bits of <paramref name="w"/> (exact in float).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Unit24(uint w) => (int)(w >> 8) * Inv2Pow24;

    /// <summary>A uniform double in [0, 1) from the top 53 of the 64 bits (<paramref name="hi"/>:<paramref name="lo"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Unit53(uint lo, uint hi) => (long)((((ulong)hi << 32) | lo) >> 11) * Inv2Pow53;

    /// <summary>f32 uniform: unit * scale + low, where scale = (float)(high − low).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float UniformF32(uint w, float low, float scale) => Unit24(w) * scale + low;

    /// <summary>f64 uniform: unit * scale + low, where scale = high − low.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double UniformF64(uint lo, uint hi, double low, double scale) => Unit53(lo, hi) * scale + low;

    /// <summary>Box–Muller: two independent standard normals from two uniforms, u1 in (0, 1] and u2 in [0, 1):
    /// r = √(−2 ln u1), z0 = r cos 2πu2, z1 = r sin 2πu2.</summary>
    public static (double Z0, double Z1) BoxMuller(double u1, double u2)
    {
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        var (sin, cos) = Math.SinCos(2.0 * Math.PI * u2);
        return (r * cos, r * sin);
    }

    /// <summary>The normal pair of an f32 fill from its two words: u1 = 1 − unit24(w0), u2 = unit24(w1).</summary>
    public static (float Z0, float Z1) NormalPairF32(uint w0, uint w1, double mean, double std)
    {
        var (z0, z1) = BoxMuller(1.0 - Unit24(w0), Unit24(w1));
        return ((float)(mean + std * z0), (float)(mean + std * z1));
    }

    /// <summary>The normal pair of an f64 fill from its four words: u1 = 1 − unit53(w0, w1), u2 = unit53(w2, w3).</summary>
    public static (double Z0, double Z1) NormalPairF64(uint w0, uint w1, uint w2, uint w3, double mean, double std)
    {
        var (z0, z1) = BoxMuller(1.0 - Unit53(w0, w1), Unit53(w2, w3));
        return (mean + std * z0, mean + std * z1);
    }

    /// <summary>A standard normal restricted to [low, high] by inversion: Φ⁻¹(Φ(low) + u (Φ(high) − Φ(low))),
    /// clamped to the interval. <paramref name="cdfLow"/> and <paramref name="cdfHigh"/> are Φ(low) and Φ(high).</summary>
    public static double TruncatedNormal(double u, double low, double high, double cdfLow, double cdfHigh)
    {
        double z = NormalDistribution.Quantile(cdfLow + u * (cdfHigh - cdfLow));
        return Math.Clamp(z, low, high);
    }

    /// <summary>The threshold on 24 bits for probability <paramref name="p"/>: an element is drawn (is b) when
    /// (w >> 8) &lt; threshold, which happens with probability threshold / 2^24 = ⌈p·2^24⌉ / 2^24.</summary>
    public static uint BernoulliThreshold(double p) => (uint)Math.Clamp(Math.Ceiling(p * 16777216.0), 0, 16777216.0);

    /// <summary>True when word <paramref name="w"/> draws the Bernoulli event.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Bernoulli(uint w, uint threshold) => (w >> 8) < threshold;

    /// <summary>An integer uniform on [low, low + range) from 64 bits: low + (bits mod range).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Integer(uint lo, uint hi, long low, ulong range) => low + (long)(((((ulong)hi << 32) | lo)) % range);

    /// <summary>Checks the parameters of a fill and names what is wrong.</summary>
    public static void Validate(RandomDistribution distribution, DType dtype, double a, double b)
    {
        bool ok = distribution switch
        {
            RandomDistribution.Integer => dtype is DType.I32 or DType.I64,
            RandomDistribution.Bernoulli => dtype is DType.F32 or DType.F64 or DType.U8,
            _ => dtype is DType.F32 or DType.F64,
        };
        if (!ok) throw new ArgumentException($"FillRandom {distribution}: no kernel for dtype {dtype.Name()}");
        switch (distribution)
        {
            case RandomDistribution.Uniform when !(a <= b) || double.IsInfinity(b - a):
                throw new ArgumentException($"Uniform: need finite low <= high, got [{a}, {b})");
            case RandomDistribution.Normal when !(b >= 0) || double.IsInfinity(b):
                throw new ArgumentException($"Normal: standard deviation must be finite and >= 0, got {b}");
            case RandomDistribution.TruncatedNormal when !(a < b):
                throw new ArgumentException($"TruncatedNormal: need low < high, got [{a}, {b}]");
            case RandomDistribution.Bernoulli when !(a >= 0 && a <= 1):
                throw new ArgumentException($"Bernoulli: probability must lie in [0, 1], got {a}");
            case RandomDistribution.Integer when !(a < b) || a != Math.Floor(a) || b != Math.Floor(b) || b - a > 9007199254740992.0:
                throw new ArgumentException($"Integer: need whole numbers low < high with high - low <= 2^53, got [{a}, {b})");
        }
    }
}
