using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PeftEngine.Cpu;

/// <summary>
/// The small pieces fused attention is built from besides the tile products (<see cref="TileProduct{T}"/>):
/// transposes, and the one-pass row steps of the softmax and of its gradient.
/// </summary>
internal static unsafe class AttentionTiles<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Queries per tile.</summary>
    public const int QueryTile = 32;

    /// <summary>Keys per tile.</summary>
    public const int KeyTile = 64;

    /// <summary>Columns to compute for a key tile of <paramref name="cols"/> keys: rounded up to whole vectors,
    /// which the zero padding of the transposed tiles allows, so no column takes the scalar tail.</summary>
    public static int PaddedColumns(int cols) => Math.Min(KeyTile, (cols + GemmVector512<T>.Count - 1) / GemmVector512<T>.Count * GemmVector512<T>.Count);

    /// <summary>Elementwise exp of a vector: <see cref="ExpF32"/> for f32 on AVX-512, the runtime's otherwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Exp(Vector512<T> x)
    {
        if (typeof(T) == typeof(float))
            return (Avx512F.IsSupported ? ExpF32(x.AsSingle()) : Vector512.Exp(x.AsSingle())).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector512.Exp(x.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>
    /// exp in f32 without leaving f32 (the runtime's widens to f64): x = n·ln 2 + r with n = round(x / ln 2) and
    /// |r| ≤ ln 2 / 2 (ln 2 split in two so that n·ln2Hi is exact), e^r from a degree-7 polynomial
    /// (1 + r + r²·P(r), the coefficients of Cephes' expf, about 1 ulp), and 2ⁿ applied by VSCALEFPS, which gives
    /// 0 for -∞ and for everything below the smallest subnormal, and NaN for NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ExpF32(Vector512<float> x)
    {
        x = Vector512.Max(x, Vector512.Create(-104f));   // exp underflows to 0 below about -103.97; NaN stays NaN
        var n = Vector512.Round(x * Vector512.Create(1.44269504088896341f));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693359375f), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(2.12194440e-4f), r);
        var p = Vector512.Create(1.9875691500e-4f);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.3981999507e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(8.3334519073e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(4.1665795894e-2f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.6666665459e-1f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(5.0000001201e-1f));
        var e = Vector512.FusedMultiplyAdd(p, r * r, r) + Vector512<float>.One;
        return Avx512F.Scale(e, n);
    }

    /// <summary>Lanes 0 .. count - 1 set (count may exceed the lane count).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> FirstLanes(int count) =>
        Vector512.LessThan(Vector512<T>.Indices, Vector512.Create(T.CreateTruncating(count)));

    /// <summary>The largest of x[0 .. n) (n ≥ 1); x must be readable up to the next whole vector. NaN handling
    /// is the hardware's (a NaN score still makes the row NaN through its exp).</summary>
    public static T Max(T* x, int n)
    {
        int w = GemmVector512<T>.Count, i = 0;
        var acc = Vector512.Create(T.NegativeInfinity);
        for (; i + w <= n; i += w) acc = Vector512.MaxNative(acc, Vector512.Load(x + i));
        if (i < n)
            acc = Vector512.MaxNative(acc, Vector512.ConditionalSelect(FirstLanes(n - i), Vector512.Load(x + i), Vector512.Create(T.NegativeInfinity)));
        var half = Vector256.MaxNative(acc.GetLower(), acc.GetUpper());
        var quarter = Vector128.MaxNative(half.GetLower(), half.GetUpper());
        T m = quarter.GetElement(0);
        for (int l = 1; l < Vector128<T>.Count; l++) m = T.Max(m, quarter.GetElement(l));
        return m;
    }

    /// <summary>x[i] = exp(x[i] - shift) for i &lt; n in one pass, returning Σ x[i] in a fixed order (lane-wise
    /// partial sums, then the lanes). x must be writable up to the next whole vector: the last partial vector is
    /// computed whole, with the lanes past n stored as 0.</summary>
    public static T ExpShiftedSum(T* x, int n, T shift)
    {
        int w = GemmVector512<T>.Count, i = 0;
        var sh = Vector512.Create(shift);
        var acc = Vector512<T>.Zero;
        for (; i + w <= n; i += w)
        {
            var e = Exp(Vector512.Load(x + i) - sh);
            e.Store(x + i);
            acc += e;
        }
        if (i < n)
        {
            var e = Vector512.ConditionalSelect(FirstLanes(n - i), Exp(Vector512.Load(x + i) - sh), Vector512<T>.Zero);
            e.Store(x + i);
            acc += e;
        }
        return Vector512.Sum(acc);
    }

    /// <summary>
    /// One row of the backward in one pass, for i &lt; n: p[i] = exp(p[i] - lse) turns scores into probabilities
    /// and ds[i] = p[i]·(ds[i] - delta)·scale turns dP into the score gradient dS. Both rows must be writable up to
    /// the next whole vector (the lanes past n are stored as 0).
    /// </summary>
    public static void ProbabilityGradients(T* p, T* ds, int n, T lse, T delta, T scale)
    {
        int w = GemmVector512<T>.Count;
        var vl = Vector512.Create(lse);
        var vd = Vector512.Create(delta);
        var vs = Vector512.Create(scale);
        for (int i = 0; i < n; i += w)
        {
            var e = Exp(Vector512.Load(p + i) - vl);
            if (i + w > n) e = Vector512.ConditionalSelect(FirstLanes(n - i), e, Vector512<T>.Zero);
            e.Store(p + i);
            (e * (Vector512.Load(ds + i) - vd) * vs).Store(ds + i);
        }
    }

    /// <summary>Σ x[i]·y[i] in a fixed order (lane-wise partial sums, then the lanes, then the tail), whatever the
    /// address of x: unlike library sums that align to the vector width first, the result never depends on where a
    /// buffer happens to sit.</summary>
    public static T Dot(T* x, T* y, int n)
    {
        int w = GemmVector512<T>.Count, i = 0;
        var acc = GemmVector512<T>.Zero;
        for (; i + w <= n; i += w) acc = GemmVector512<T>.MulAdd(GemmVector512<T>.Load(x + i), GemmVector512<T>.Load(y + i), acc);
        T s = GemmVector512<T>.Sum(acc);
        for (; i < n; i++) s += x[i] * y[i];
        return s;
    }

    /// <summary>
    /// dst[c·ldDst + r] = src[r·ldSrc + c] for r &lt; rows, c &lt; cols. For f32 on AVX-512, whole groups of 16
    /// columns go through 16 x 16 register transposes, which write each dst row up to the next multiple of 16
    /// entries (zeros past <paramref name="rows"/>), so dst rows must have room for that.
    /// </summary>
    public static void Transpose(T* src, long ldSrc, int rows, int cols, T* dst, long ldDst)
    {
        int c0 = 0;
        if (typeof(T) == typeof(float) && Avx512F.IsSupported)
            for (; c0 + 16 <= cols; c0 += 16)
                for (int r0 = 0; r0 < rows; r0 += 16)
                    Transpose16((float*)src + r0 * ldSrc + c0, ldSrc, Math.Min(16, rows - r0), (float*)dst + c0 * ldDst + r0, ldDst);
        for (int c = c0; c < cols; c++)
        {
            T* d = dst + c * ldDst;
            for (int r = 0; r < rows; r++) d[r] = src[r * ldSrc + c];
        }
    }

    /// <summary>
    /// A 16 x 16 f32 block (rows past <paramref name="rows"/> read as zeros) transposed in registers: pairs of rows
    /// interleaved (unpack), then pairs of pairs (shufps), which leaves in each 128-bit lane L of vector 4i + j
    /// column 4L + j of rows 4i .. 4i + 3; two rounds of 128-bit lane shuffles then gather the four lanes of
    /// each column.
    /// </summary>
    private static void Transpose16(float* src, long ld, int rows, float* dst, long ldd)
    {
        var r = stackalloc Vector512<float>[16];
        for (int k = 0; k < 16; k++) r[k] = k < rows ? Vector512.Load(src + k * ld) : Vector512<float>.Zero;
        var t = stackalloc Vector512<float>[16];
        for (int i = 0; i < 8; i++)
        {
            t[2 * i] = Avx512F.UnpackLow(r[2 * i], r[2 * i + 1]);    // a0 b0 a1 b1 per lane
            t[2 * i + 1] = Avx512F.UnpackHigh(r[2 * i], r[2 * i + 1]); // a2 b2 a3 b3 per lane
        }
        for (int i = 0; i < 4; i++)
        {
            r[4 * i] = Avx512F.Shuffle(t[4 * i], t[4 * i + 2], 0x44);         // a0 b0 c0 d0 per lane
            r[4 * i + 1] = Avx512F.Shuffle(t[4 * i], t[4 * i + 2], 0xEE);     // a1 b1 c1 d1
            r[4 * i + 2] = Avx512F.Shuffle(t[4 * i + 1], t[4 * i + 3], 0x44); // a2 b2 c2 d2
            r[4 * i + 3] = Avx512F.Shuffle(t[4 * i + 1], t[4 * i + 3], 0xEE); // a3 b3 c3 d3
        }
        for (int j = 0; j < 4; j++)
        {
            var v0 = Avx512F.Shuffle4x128(r[j], r[4 + j], 0x88);      // lanes 0, 2 of each
            var v1 = Avx512F.Shuffle4x128(r[j], r[4 + j], 0xDD);      // lanes 1, 3 of each
            var w0 = Avx512F.Shuffle4x128(r[8 + j], r[12 + j], 0x88);
            var w1 = Avx512F.Shuffle4x128(r[8 + j], r[12 + j], 0xDD);
            Avx512F.Shuffle4x128(v0, w0, 0x88).Store(dst + j * ldd);         // column j
            Avx512F.Shuffle4x128(v1, w1, 0x88).Store(dst + (4 + j) * ldd);   // column 4 + j
            Avx512F.Shuffle4x128(v0, w0, 0xDD).Store(dst + (8 + j) * ldd);   // column 8 + j
            Avx512F.Shuffle4x128(v1, w1, 0xDD).Store(dst + (12 + j) * ldd);  // column 12 + j
        }
    }
}
