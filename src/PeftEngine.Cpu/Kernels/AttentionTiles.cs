using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace PeftEngine.Cpu;

/// <summary>
/// The small dense pieces fused attention is built from: a vector times a matrix with the row kept in
/// registers, transposes, and the score row of one query against one key tile (mask and causal limit).
/// </summary>
internal static unsafe class AttentionTiles<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Queries per tile.</summary>
    public const int QueryTile = 32;

    /// <summary>Keys per tile.</summary>
    public const int KeyTile = 64;

    /// <summary>
    /// y[0..n) = Σ_{c &lt; k} x[c] · m[c·ld + 0..n), added to y when <paramref name="accumulate"/>. Four vectors of y
    /// stay in registers while the k rows of m stream past.
    /// </summary>
    public static void VecMat(T* x, int k, T* m, long ld, int n, T* y, bool accumulate)
    {
        int w = GemmVector512<T>.Count;
        int j = 0;
        for (; j + 4 * w <= n; j += 4 * w)
        {
            var a0 = accumulate ? GemmVector512<T>.Load(y + j) : GemmVector512<T>.Zero;
            var a1 = accumulate ? GemmVector512<T>.Load(y + j + w) : GemmVector512<T>.Zero;
            var a2 = accumulate ? GemmVector512<T>.Load(y + j + 2 * w) : GemmVector512<T>.Zero;
            var a3 = accumulate ? GemmVector512<T>.Load(y + j + 3 * w) : GemmVector512<T>.Zero;
            T* row = m + j;
            for (int c = 0; c < k; c++, row += ld)
            {
                var xc = GemmVector512<T>.Splat(x[c]);
                a0 = GemmVector512<T>.MulAdd(xc, GemmVector512<T>.Load(row), a0);
                a1 = GemmVector512<T>.MulAdd(xc, GemmVector512<T>.Load(row + w), a1);
                a2 = GemmVector512<T>.MulAdd(xc, GemmVector512<T>.Load(row + 2 * w), a2);
                a3 = GemmVector512<T>.MulAdd(xc, GemmVector512<T>.Load(row + 3 * w), a3);
            }
            GemmVector512<T>.Store(y + j, a0);
            GemmVector512<T>.Store(y + j + w, a1);
            GemmVector512<T>.Store(y + j + 2 * w, a2);
            GemmVector512<T>.Store(y + j + 3 * w, a3);
        }
        for (; j + w <= n; j += w)
        {
            var a = accumulate ? GemmVector512<T>.Load(y + j) : GemmVector512<T>.Zero;
            T* row = m + j;
            for (int c = 0; c < k; c++, row += ld)
                a = GemmVector512<T>.MulAdd(GemmVector512<T>.Splat(x[c]), GemmVector512<T>.Load(row), a);
            GemmVector512<T>.Store(y + j, a);
        }
        for (; j < n; j++)
        {
            T a = accumulate ? y[j] : T.Zero;
            for (int c = 0; c < k; c++) a += x[c] * m[c * ld + j];
            y[j] = a;
        }
    }

    /// <summary>Σ x[i] in a fixed order (lane-wise partial sums, then the lanes, then the tail), whatever the
    /// address of x: unlike library sums that align to the vector width first, the result never depends on
    /// where a scratch buffer happens to sit.</summary>
    public static T Sum(T* x, int n)
    {
        int w = GemmVector512<T>.Count, i = 0;
        var acc = GemmVector512<T>.Zero;
        for (; i + w <= n; i += w) acc += GemmVector512<T>.Load(x + i);
        T s = GemmVector512<T>.Sum(acc);
        for (; i < n; i++) s += x[i];
        return s;
    }

    /// <summary>Σ x[i]·y[i] in a fixed order, like <see cref="Sum"/>.</summary>
    public static T Dot(T* x, T* y, int n)
    {
        int w = GemmVector512<T>.Count, i = 0;
        var acc = GemmVector512<T>.Zero;
        for (; i + w <= n; i += w) acc = GemmVector512<T>.MulAdd(GemmVector512<T>.Load(x + i), GemmVector512<T>.Load(y + i), acc);
        T s = GemmVector512<T>.Sum(acc);
        for (; i < n; i++) s += x[i] * y[i];
        return s;
    }

    /// <summary>dst[c·ldDst + r] = src[r·ldSrc + c] for r &lt; rows, c &lt; cols.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Transpose(T* src, long ldSrc, int rows, int cols, T* dst, long ldDst)
    {
        for (int c = 0; c < cols; c++)
        {
            T* d = dst + c * ldDst;
            for (int r = 0; r < rows; r++) d[r] = src[r * ldSrc + c];
        }
    }

    /// <summary>
    /// The scores of one query row against keys j0 .. j0 + cols: s_j = (scale · q) · k_j + mask_j, with the
    /// query already scaled and kt the transposed tile of those keys, D rows of stride <paramref name="ldK"/>. Returns how many leading keys the causal limit allows (the rest of s is not
    /// written); 0 means the row sees none of these keys.
    /// </summary>
    public static int ScoreRow(T* qScaled, int d, T* kt, long ldK, int j0, int cols, T* maskRow, long causalLimit, T* s)
    {
        int n = (int)Math.Min(cols, causalLimit - j0 + 1);
        if (n <= 0) return 0;
        VecMat(qScaled, d, kt, ldK, n, s, accumulate: false);
        if (maskRow != null) TensorPrimitives.Add(new ReadOnlySpan<T>(s, n), new ReadOnlySpan<T>(maskRow + j0, n), new Span<T>(s, n));
        return n;
    }
}
