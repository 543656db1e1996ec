using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace PeftEngine.Cpu;

/// <summary>
/// GELU (erf form) in single precision over 512-bit vectors, for machines with AVX-512. The formulas are those of
/// <see cref="ActivationKernels.GeluErfF32"/> and <see cref="ActivationKernels.GeluErfGradF32"/>; only the vector
/// width differs. The runtime sizes <see cref="System.Numerics.Vector{T}"/> at 256 bits even where 512 are
/// available, and GELU is limited by arithmetic rather than memory, so the wider vectors run it about twice as fast.
/// </summary>
/// <remarks>Each method handles the longest prefix that is a whole number of vectors and returns its length; the
/// caller finishes the rest with the <see cref="System.Numerics.Vector{T}"/> kernels.</remarks>
internal static class GeluErf512
{
    private const float SqrtHalf = 0.70710678f;                   // 1/√2
    private const float OneOverSqrtTwoPi = 0.3989422804014327f;   // 1/√(2π)

    /// <summary>Whether 512-bit vectors are hardware accelerated here.</summary>
    public static bool IsSupported => Vector512.IsHardwareAccelerated;

    /// <summary>y = x Φ(x) over the whole vectors of x; returns how many elements were done. x and y may be the
    /// same span.</summary>
    public static int Forward(ReadOnlySpan<float> x, Span<float> y)
    {
        int n = x.Length - x.Length % Vector512<float>.Count;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        for (int i = 0; i < n; i += Vector512<float>.Count)
        {
            var v = Vector512.LoadUnsafe(ref xr, (nuint)i);
            (v * NormalCdf(v, ExpMinusHalfSquare(v))).StoreUnsafe(ref yr, (nuint)i);
        }
        return n;
    }

    /// <summary>dx = dy (Φ(x) + x φ(x)) over the whole vectors; returns how many elements were done.</summary>
    public static int Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        int n = x.Length - x.Length % Vector512<float>.Count;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float gr = ref MemoryMarshal.GetReference(dy);
        ref float dr = ref MemoryMarshal.GetReference(dx);
        for (int i = 0; i < n; i += Vector512<float>.Count)
        {
            var v = Vector512.LoadUnsafe(ref xr, (nuint)i);
            var e = ExpMinusHalfSquare(v);   // shared by Φ and φ
            var pdf = Vector512.Create(OneOverSqrtTwoPi) * e;
            (Vector512.LoadUnsafe(ref gr, (nuint)i) * (NormalCdf(v, e) + v * pdf)).StoreUnsafe(ref dr, (nuint)i);
        }
        return n;
    }

    /// <summary>e^(−x²/2).</summary>
    private static Vector512<float> ExpMinusHalfSquare(Vector512<float> x) => Vector512.Exp(Vector512.Create(-0.5f) * x * x);

    /// <summary>Φ(x) from Φ(−|x|) = ½ e^(−x²/2) t·Q(t) at z = |x|/√2, and Φ(|x|) = 1 − Φ(−|x|).</summary>
    private static Vector512<float> NormalCdf(Vector512<float> x, Vector512<float> expMinusHalfSquare)
    {
        var lower = Vector512.Create(0.5f) * ErfcScaled(Vector512.Abs(x) * Vector512.Create(SqrtHalf)) * expMinusHalfSquare;
        return Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<float>.Zero), Vector512<float>.One - lower, lower);
    }

    /// <summary>e^(z²) erfc(z) for z ≥ 0 as t·Q(t), t = 1/(1 + 0.4z) (see <see cref="SpecialFunctions"/>).</summary>
    private static Vector512<float> ErfcScaled(Vector512<float> z)
    {
        var one = Vector512<float>.One;
        var t = one / (one + Vector512.Create(SpecialFunctions.ErfcScaledP) * Vector512.Min(z, Vector512.Create(SpecialFunctions.ErfcClamp)));
        var c = SpecialFunctions.ErfcScaledCoefficients;
        var acc = Vector512.Create(c[0]);
        for (int i = 1; i < c.Length; i++) acc = Vector512.MultiplyAddEstimate(acc, t, Vector512.Create(c[i]));
        return t * acc;
    }
}
