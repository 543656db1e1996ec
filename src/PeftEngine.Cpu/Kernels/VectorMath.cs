using System.Numerics;
using System.Runtime.InteropServices;

namespace PeftEngine.Cpu;

/// <summary>A function of one SIMD vector, applied lane by lane (an "operator struct": the JIT compiles a
/// copy of the loop for each struct, with <see cref="Invoke"/> inlined).</summary>
internal interface IVectorOp1<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    Vector<T> Invoke(Vector<T> x);
}

/// <summary>A lane-by-lane function of two vectors, e.g. (x, dy) → dx.</summary>
internal interface IVectorOp2<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    Vector<T> Invoke(Vector<T> x, Vector<T> y);
}

/// <summary>A lane-by-lane function of three vectors, e.g. (a, b, dy) → da.</summary>
internal interface IVectorOp3<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    Vector<T> Invoke(Vector<T> a, Vector<T> b, Vector<T> c);
}

/// <summary>
/// SIMD building blocks for the elementwise kernels, written once over <see cref="Vector{T}"/> for float and
/// double. The vector width is the one the runtime picks for the machine at start-up: 256 bits with AVX2 (also on
/// AVX-512 machines unless DOTNET_MaxVectorTBitWidth=512 is set), 128 with SSE or NEON.
/// </summary>
internal static class VectorMath
{
    /// <summary>A vector with every lane equal to <paramref name="v"/>.</summary>
    public static Vector<T> Splat<T>(double v) where T : unmanaged, IFloatingPointIeee754<T> => new(T.CreateTruncating(v));

    /// <summary>y[i] = op(x[i]). x and y may be the same span.</summary>
    public static void Map<T, TOp>(TOp op, ReadOnlySpan<T> x, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : struct, IVectorOp1<T>
    {
        int n = x.Length, w = Vector<T>.Count, i = 0;
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T yr = ref MemoryMarshal.GetReference(y);
        for (; i <= n - w; i += w)
            op.Invoke(Vector.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        if (i == n) return;
        // The last partial vector: compute a zero-padded copy and keep the lanes that belong to the span.
        Span<T> bx = stackalloc T[w];
        bx.Clear();
        x[i..].CopyTo(bx);
        op.Invoke(new Vector<T>(bx)).CopyTo(bx);
        bx[..(n - i)].CopyTo(y[i..]);
    }

    /// <summary>z[i] = op(x[i], y[i]). z may be the same span as x or y.</summary>
    public static void Map<T, TOp>(TOp op, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> z)
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : struct, IVectorOp2<T>
    {
        int n = x.Length, w = Vector<T>.Count, i = 0;
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T yr = ref MemoryMarshal.GetReference(y);
        ref T zr = ref MemoryMarshal.GetReference(z);
        for (; i <= n - w; i += w)
            op.Invoke(Vector.LoadUnsafe(ref xr, (nuint)i), Vector.LoadUnsafe(ref yr, (nuint)i)).StoreUnsafe(ref zr, (nuint)i);
        if (i == n) return;
        Span<T> bx = stackalloc T[w], by = stackalloc T[w];
        bx.Clear();
        by.Clear();
        x[i..].CopyTo(bx);
        y[i..].CopyTo(by);
        op.Invoke(new Vector<T>(bx), new Vector<T>(by)).CopyTo(bx);
        bx[..(n - i)].CopyTo(z[i..]);
    }

    /// <summary>d[i] = op(a[i], b[i], c[i]). d may be the same span as one of the inputs.</summary>
    public static void Map<T, TOp>(TOp op, ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> c, Span<T> d)
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : struct, IVectorOp3<T>
    {
        int n = a.Length, w = Vector<T>.Count, i = 0;
        ref T ar = ref MemoryMarshal.GetReference(a);
        ref T br = ref MemoryMarshal.GetReference(b);
        ref T cr = ref MemoryMarshal.GetReference(c);
        ref T dr = ref MemoryMarshal.GetReference(d);
        for (; i <= n - w; i += w)
            op.Invoke(Vector.LoadUnsafe(ref ar, (nuint)i), Vector.LoadUnsafe(ref br, (nuint)i), Vector.LoadUnsafe(ref cr, (nuint)i))
                .StoreUnsafe(ref dr, (nuint)i);
        if (i == n) return;
        Span<T> ba = stackalloc T[w], bb = stackalloc T[w], bc = stackalloc T[w];
        ba.Clear();
        bb.Clear();
        bc.Clear();
        a[i..].CopyTo(ba);
        b[i..].CopyTo(bb);
        c[i..].CopyTo(bc);
        op.Invoke(new Vector<T>(ba), new Vector<T>(bb), new Vector<T>(bc)).CopyTo(ba);
        ba[..(n - i)].CopyTo(d[i..]);
    }

    /// <summary>e^x lane by lane (the runtime's vectorized exp, about 1 ulp).</summary>
    public static Vector<T> Exp<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // typeof tests on a value type are constants to the JIT: only one branch survives.
        if (typeof(T) == typeof(float)) return Vector.Exp(x.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector.Exp(x.As<T, double>()).As<double, T>();
        throw new NotSupportedException($"vector exp of {typeof(T).Name}");
    }

    /// <summary>The natural logarithm lane by lane.</summary>
    public static Vector<T> Log<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Vector.Log(x.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector.Log(x.As<T, double>()).As<double, T>();
        throw new NotSupportedException($"vector log of {typeof(T).Name}");
    }

    /// <summary>σ(x) = 1/(1 + e^−x) and σ(−x) = 1 − σ(x), both to full relative accuracy: only e^−|x| ≤ 1 is
    /// computed, so nothing overflows and the small one of the pair is never formed as 1 − (almost 1).</summary>
    public static (Vector<T> Pos, Vector<T> Neg) Sigmoid<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var e = Exp(-Vector.Abs(x));
        var big = Vector<T>.One / (Vector<T>.One + e);   // σ(|x|)
        var small = e * big;                             // σ(−|x|)
        var nonNegative = Vector.GreaterThanOrEqual(x, Vector<T>.Zero);
        return (Vector.ConditionalSelect(nonNegative, big, small), Vector.ConditionalSelect(nonNegative, small, big));
    }

    /// <summary>log(1 + u) for u ≥ 0 without losing digits when u is small (see <see cref="ScalarMath.Log1p"/>).</summary>
    public static Vector<T> Log1p<T>(Vector<T> u) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var w = Vector<T>.One + u;
        var corrected = Log(w) * u / (w - Vector<T>.One);
        return Vector.ConditionalSelect(Vector.Equals(w, Vector<T>.One), u, corrected);
    }

    /// <summary>sign(x): −1, 0 or 1; NaN stays NaN.</summary>
    public static Vector<T> Sign<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var neg = Vector.ConditionalSelect(Vector.LessThan(x, Vector<T>.Zero), -Vector<T>.One, x);
        return Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<T>.Zero), Vector<T>.One, neg);
    }

    /// <summary>erf(z) for z ≥ 0 in single precision: z·S(z²) below 1, 1 − e^(−z²)·t·Q(t) above (both are
    /// computed for every lane and the right one is selected; see <see cref="SpecialFunctions"/>).</summary>
    public static Vector<float> ErfNonNegative(Vector<float> z)
    {
        var small = z * Horner(SpecialFunctions.ErfSmallCoefficients, z * z);
        var large = Vector<float>.One - ErfcScaled(z) * Vector.Exp(-(z * z));
        return Vector.ConditionalSelect(Vector.LessThan(z, new Vector<float>(SpecialFunctions.ErfSmallLimit)), small, large);
    }

    /// <summary>e^(z²) erfc(z) for z ≥ 0 in single precision, as t·Q(t) with t = 1/(1 + 0.4z). Multiplying by
    /// e^(−z²) gives erfc(z) with full relative accuracy, also in the far tail.</summary>
    public static Vector<float> ErfcScaled(Vector<float> z)
    {
        var one = Vector<float>.One;
        var t = one / (one + new Vector<float>(SpecialFunctions.ErfcScaledP) * Vector.Min(z, new Vector<float>(SpecialFunctions.ErfcClamp)));
        return t * Horner(SpecialFunctions.ErfcScaledCoefficients, t);
    }

    /// <summary>c[0] xⁿ + c[1] xⁿ⁻¹ + ... + c[n] by Horner's rule.</summary>
    private static Vector<float> Horner(ReadOnlySpan<float> c, Vector<float> x)
    {
        var acc = new Vector<float>(c[0]);
        for (int i = 1; i < c.Length; i++) acc = Vector.MultiplyAddEstimate(acc, x, new Vector<float>(c[i]));
        return acc;
    }
}
