using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace PeftEngine.Cpu;

/// <summary>
/// Register-blocked dot-product kernels for products whose operands are both contiguous along k (rows of A,
/// columns of B, as in x · Wᵀ): a block of C (4 x 4, 4 x 6 or 3 x 8) is computed as that many dot products at once,
/// each vector of the block's rows and columns loaded once for several multiply-adds. No packing is needed, which
/// is what makes them the better choice when C is narrow (a few rows or columns) and packing would copy a whole big
/// operand.
/// </summary>
/// <remarks>
/// The kernels add a stretch [p0, p1) of k (a whole number of vectors) to lane-wise partial sums kept in memory,
/// <c>acc</c>, one vector per element of the block, row by row. A caller can therefore cut k into stretches whose
/// slice of the narrow operand stays in L1 and come back to a block after the other blocks have taken the same
/// stretch (<see cref="GemmDotRows{TOps, TV, T}"/>). <see cref="Finish"/> then adds the lanes and the leftover
/// elements in order. Every sum runs the same way: lane-wise partial sums over k in steps of the vector width, the
/// lanes added, then the leftover elements; a result depends only on its own row, column and k, never on the block
/// shape, the stretches or where in C it sits.
/// </remarks>
internal static unsafe class GemmDotKernel<TOps, TV, T>
    where TOps : IGemmVector<TV, T>
    where TV : struct
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>acc[4 r + c] += a_r[p] · b_c[p] lane-wise over p in [p0, p1), for rows a[0..4) and columns b[0..4)
    /// (each acc entry one vector): 8 vector loads per 16 multiply-adds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Accumulate4x4(T** a, T** b, int p0, int p1, T* acc)
    {
        T* a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
        int w = TOps.Count;
        TV c00 = TOps.Load(acc), c01 = TOps.Load(acc + w), c02 = TOps.Load(acc + 2 * w), c03 = TOps.Load(acc + 3 * w);
        TV c10 = TOps.Load(acc + 4 * w), c11 = TOps.Load(acc + 5 * w), c12 = TOps.Load(acc + 6 * w), c13 = TOps.Load(acc + 7 * w);
        TV c20 = TOps.Load(acc + 8 * w), c21 = TOps.Load(acc + 9 * w), c22 = TOps.Load(acc + 10 * w), c23 = TOps.Load(acc + 11 * w);
        TV c30 = TOps.Load(acc + 12 * w), c31 = TOps.Load(acc + 13 * w), c32 = TOps.Load(acc + 14 * w), c33 = TOps.Load(acc + 15 * w);
        for (int p = p0; p < p1; p += w)
        {
            TV x0 = TOps.Load(a0 + p), x1 = TOps.Load(a1 + p), x2 = TOps.Load(a2 + p), x3 = TOps.Load(a3 + p);
            TV y;
            y = TOps.Load(b0 + p);
            c00 = TOps.MulAdd(x0, y, c00); c10 = TOps.MulAdd(x1, y, c10); c20 = TOps.MulAdd(x2, y, c20); c30 = TOps.MulAdd(x3, y, c30);
            y = TOps.Load(b1 + p);
            c01 = TOps.MulAdd(x0, y, c01); c11 = TOps.MulAdd(x1, y, c11); c21 = TOps.MulAdd(x2, y, c21); c31 = TOps.MulAdd(x3, y, c31);
            y = TOps.Load(b2 + p);
            c02 = TOps.MulAdd(x0, y, c02); c12 = TOps.MulAdd(x1, y, c12); c22 = TOps.MulAdd(x2, y, c22); c32 = TOps.MulAdd(x3, y, c32);
            y = TOps.Load(b3 + p);
            c03 = TOps.MulAdd(x0, y, c03); c13 = TOps.MulAdd(x1, y, c13); c23 = TOps.MulAdd(x2, y, c23); c33 = TOps.MulAdd(x3, y, c33);
        }
        TOps.Store(acc, c00); TOps.Store(acc + w, c01); TOps.Store(acc + 2 * w, c02); TOps.Store(acc + 3 * w, c03);
        TOps.Store(acc + 4 * w, c10); TOps.Store(acc + 5 * w, c11); TOps.Store(acc + 6 * w, c12); TOps.Store(acc + 7 * w, c13);
        TOps.Store(acc + 8 * w, c20); TOps.Store(acc + 9 * w, c21); TOps.Store(acc + 10 * w, c22); TOps.Store(acc + 11 * w, c23);
        TOps.Store(acc + 12 * w, c30); TOps.Store(acc + 13 * w, c31); TOps.Store(acc + 14 * w, c32); TOps.Store(acc + 15 * w, c33);
    }

    /// <summary>acc[6 r + c] += a_r[p] · b_c[p] lane-wise over p in [p0, p1), for rows a[0..4) and columns b[0..6):
    /// 24 accumulators, for 32-register vector units; 10 vector loads per 24 multiply-adds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Accumulate4x6(T** a, T** b, int p0, int p1, T* acc)
    {
        T* a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3], b4 = b[4], b5 = b[5];
        int w = TOps.Count;
        TV c00 = TOps.Load(acc), c01 = TOps.Load(acc + w), c02 = TOps.Load(acc + 2 * w), c03 = TOps.Load(acc + 3 * w), c04 = TOps.Load(acc + 4 * w), c05 = TOps.Load(acc + 5 * w);
        TV c10 = TOps.Load(acc + 6 * w), c11 = TOps.Load(acc + 7 * w), c12 = TOps.Load(acc + 8 * w), c13 = TOps.Load(acc + 9 * w), c14 = TOps.Load(acc + 10 * w), c15 = TOps.Load(acc + 11 * w);
        TV c20 = TOps.Load(acc + 12 * w), c21 = TOps.Load(acc + 13 * w), c22 = TOps.Load(acc + 14 * w), c23 = TOps.Load(acc + 15 * w), c24 = TOps.Load(acc + 16 * w), c25 = TOps.Load(acc + 17 * w);
        TV c30 = TOps.Load(acc + 18 * w), c31 = TOps.Load(acc + 19 * w), c32 = TOps.Load(acc + 20 * w), c33 = TOps.Load(acc + 21 * w), c34 = TOps.Load(acc + 22 * w), c35 = TOps.Load(acc + 23 * w);
        for (int p = p0; p < p1; p += w)
        {
            TV x0 = TOps.Load(a0 + p), x1 = TOps.Load(a1 + p), x2 = TOps.Load(a2 + p), x3 = TOps.Load(a3 + p);
            TV y = TOps.Load(b0 + p);
            c00 = TOps.MulAdd(x0, y, c00); c10 = TOps.MulAdd(x1, y, c10); c20 = TOps.MulAdd(x2, y, c20); c30 = TOps.MulAdd(x3, y, c30);
            y = TOps.Load(b1 + p);
            c01 = TOps.MulAdd(x0, y, c01); c11 = TOps.MulAdd(x1, y, c11); c21 = TOps.MulAdd(x2, y, c21); c31 = TOps.MulAdd(x3, y, c31);
            y = TOps.Load(b2 + p);
            c02 = TOps.MulAdd(x0, y, c02); c12 = TOps.MulAdd(x1, y, c12); c22 = TOps.MulAdd(x2, y, c22); c32 = TOps.MulAdd(x3, y, c32);
            y = TOps.Load(b3 + p);
            c03 = TOps.MulAdd(x0, y, c03); c13 = TOps.MulAdd(x1, y, c13); c23 = TOps.MulAdd(x2, y, c23); c33 = TOps.MulAdd(x3, y, c33);
            y = TOps.Load(b4 + p);
            c04 = TOps.MulAdd(x0, y, c04); c14 = TOps.MulAdd(x1, y, c14); c24 = TOps.MulAdd(x2, y, c24); c34 = TOps.MulAdd(x3, y, c34);
            y = TOps.Load(b5 + p);
            c05 = TOps.MulAdd(x0, y, c05); c15 = TOps.MulAdd(x1, y, c15); c25 = TOps.MulAdd(x2, y, c25); c35 = TOps.MulAdd(x3, y, c35);
        }
        TOps.Store(acc, c00); TOps.Store(acc + w, c01); TOps.Store(acc + 2 * w, c02); TOps.Store(acc + 3 * w, c03); TOps.Store(acc + 4 * w, c04); TOps.Store(acc + 5 * w, c05);
        TOps.Store(acc + 6 * w, c10); TOps.Store(acc + 7 * w, c11); TOps.Store(acc + 8 * w, c12); TOps.Store(acc + 9 * w, c13); TOps.Store(acc + 10 * w, c14); TOps.Store(acc + 11 * w, c15);
        TOps.Store(acc + 12 * w, c20); TOps.Store(acc + 13 * w, c21); TOps.Store(acc + 14 * w, c22); TOps.Store(acc + 15 * w, c23); TOps.Store(acc + 16 * w, c24); TOps.Store(acc + 17 * w, c25);
        TOps.Store(acc + 18 * w, c30); TOps.Store(acc + 19 * w, c31); TOps.Store(acc + 20 * w, c32); TOps.Store(acc + 21 * w, c33); TOps.Store(acc + 22 * w, c34); TOps.Store(acc + 23 * w, c35);
    }

    /// <summary>acc[8 r + c] += a_r[p] · b_c[p] lane-wise over p in [p0, p1), for rows a[0..3) and columns b[0..8):
    /// 24 accumulators, for 32-register vector units; 11 vector loads per 24 multiply-adds, and every vector of a
    /// row of A (the long operand of x · Aᵀ at rank 8) loaded once. With <see cref="WithPrefetch"/>, the same span of
    /// the three rows <paramref name="next"/> (the block a caller takes next) is prefetched into L1 on the way, one
    /// line per row and step: rows of x that come from memory in short runs are more than the hardware prefetcher
    /// alone keeps up with.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Accumulate3x8<TPrefetch>(T** a, T** b, int p0, int p1, T* acc, T** next)
        where TPrefetch : IPrefetchChoice
    {
        T* a0 = a[0], a1 = a[1], a2 = a[2];
        T* n0 = next[0], n1 = next[1], n2 = next[2];
        T* b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3], b4 = b[4], b5 = b[5], b6 = b[6], b7 = b[7];
        int w = TOps.Count;
        TV c00 = TOps.Load(acc), c01 = TOps.Load(acc + w), c02 = TOps.Load(acc + 2 * w), c03 = TOps.Load(acc + 3 * w);
        TV c04 = TOps.Load(acc + 4 * w), c05 = TOps.Load(acc + 5 * w), c06 = TOps.Load(acc + 6 * w), c07 = TOps.Load(acc + 7 * w);
        TV c10 = TOps.Load(acc + 8 * w), c11 = TOps.Load(acc + 9 * w), c12 = TOps.Load(acc + 10 * w), c13 = TOps.Load(acc + 11 * w);
        TV c14 = TOps.Load(acc + 12 * w), c15 = TOps.Load(acc + 13 * w), c16 = TOps.Load(acc + 14 * w), c17 = TOps.Load(acc + 15 * w);
        TV c20 = TOps.Load(acc + 16 * w), c21 = TOps.Load(acc + 17 * w), c22 = TOps.Load(acc + 18 * w), c23 = TOps.Load(acc + 19 * w);
        TV c24 = TOps.Load(acc + 20 * w), c25 = TOps.Load(acc + 21 * w), c26 = TOps.Load(acc + 22 * w), c27 = TOps.Load(acc + 23 * w);
        for (int p = p0; p < p1; p += w)
        {
            TV x0 = TOps.Load(a0 + p), x1 = TOps.Load(a1 + p), x2 = TOps.Load(a2 + p);
            if (TPrefetch.On && Sse.IsSupported)
            {
                Sse.Prefetch0(n0 + p);
                Sse.Prefetch0(n1 + p);
                Sse.Prefetch0(n2 + p);
            }
            TV y = TOps.Load(b0 + p);
            c00 = TOps.MulAdd(x0, y, c00); c10 = TOps.MulAdd(x1, y, c10); c20 = TOps.MulAdd(x2, y, c20);
            y = TOps.Load(b1 + p);
            c01 = TOps.MulAdd(x0, y, c01); c11 = TOps.MulAdd(x1, y, c11); c21 = TOps.MulAdd(x2, y, c21);
            y = TOps.Load(b2 + p);
            c02 = TOps.MulAdd(x0, y, c02); c12 = TOps.MulAdd(x1, y, c12); c22 = TOps.MulAdd(x2, y, c22);
            y = TOps.Load(b3 + p);
            c03 = TOps.MulAdd(x0, y, c03); c13 = TOps.MulAdd(x1, y, c13); c23 = TOps.MulAdd(x2, y, c23);
            y = TOps.Load(b4 + p);
            c04 = TOps.MulAdd(x0, y, c04); c14 = TOps.MulAdd(x1, y, c14); c24 = TOps.MulAdd(x2, y, c24);
            y = TOps.Load(b5 + p);
            c05 = TOps.MulAdd(x0, y, c05); c15 = TOps.MulAdd(x1, y, c15); c25 = TOps.MulAdd(x2, y, c25);
            y = TOps.Load(b6 + p);
            c06 = TOps.MulAdd(x0, y, c06); c16 = TOps.MulAdd(x1, y, c16); c26 = TOps.MulAdd(x2, y, c26);
            y = TOps.Load(b7 + p);
            c07 = TOps.MulAdd(x0, y, c07); c17 = TOps.MulAdd(x1, y, c17); c27 = TOps.MulAdd(x2, y, c27);
        }
        TOps.Store(acc, c00); TOps.Store(acc + w, c01); TOps.Store(acc + 2 * w, c02); TOps.Store(acc + 3 * w, c03);
        TOps.Store(acc + 4 * w, c04); TOps.Store(acc + 5 * w, c05); TOps.Store(acc + 6 * w, c06); TOps.Store(acc + 7 * w, c07);
        TOps.Store(acc + 8 * w, c10); TOps.Store(acc + 9 * w, c11); TOps.Store(acc + 10 * w, c12); TOps.Store(acc + 11 * w, c13);
        TOps.Store(acc + 12 * w, c14); TOps.Store(acc + 13 * w, c15); TOps.Store(acc + 14 * w, c16); TOps.Store(acc + 15 * w, c17);
        TOps.Store(acc + 16 * w, c20); TOps.Store(acc + 17 * w, c21); TOps.Store(acc + 18 * w, c22); TOps.Store(acc + 19 * w, c23);
        TOps.Store(acc + 20 * w, c24); TOps.Store(acc + 21 * w, c25); TOps.Store(acc + 22 * w, c26); TOps.Store(acc + 23 * w, c27);
    }

    /// <summary>Adds the stretch [p0, p1) to a rows x cols block with the kernel for that shape (4 x 4, 4 x 6 or
    /// 3 x 8; the last prefetches the rows <paramref name="next"/> when <paramref name="prefetch"/> is set).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accumulate(int rows, int cols, T** a, T** b, int p0, int p1, T* acc, T** next, bool prefetch)
    {
        if (rows == 3 && prefetch) Accumulate3x8<WithPrefetch>(a, b, p0, p1, acc, next);
        else if (rows == 3) Accumulate3x8<WithoutPrefetch>(a, b, p0, p1, acc, next);
        else if (cols == 6) Accumulate4x6(a, b, p0, p1, acc);
        else Accumulate4x4(a, b, p0, p1, acc);
    }

    /// <summary>Finishes a rows x cols block and writes it to C: each sum is the lanes of acc[cols r + c] added, then
    /// a_r[p] · b_c[p] for the leftover elements p in [kv, k) in order; C[r, c] (rows ldc apart) becomes alpha · sum +
    /// beta · C[r, c] for the first <paramref name="validRows"/> rows and <paramref name="validCols"/> columns (those
    /// past the edge of C are dropped).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Finish(int rows, int cols, T** a, T** b, int kv, int k, T* acc, T* c, long ldc, int validRows,
        int validCols, T alpha, T beta)
    {
        int w = TOps.Count;
        T* s = stackalloc T[rows * cols];
        for (int e = 0; e < rows * cols; e++) s[e] = TOps.Sum(TOps.Load(acc + e * w));
        for (int p = kv; p < k; p++)
            for (int r = 0; r < rows; r++)
            {
                T x = a[r][p];
                for (int q = 0; q < cols; q++) s[r * cols + q] = T.FusedMultiplyAdd(x, b[q][p], s[r * cols + q]);
            }
        for (int r = 0; r < Math.Min(rows, validRows); r++)
            for (int q = 0; q < Math.Min(cols, validCols); q++)
                GemmVectorPath<T>.Write(c + r * ldc + q, s[r * cols + q], alpha, beta);
    }
}
