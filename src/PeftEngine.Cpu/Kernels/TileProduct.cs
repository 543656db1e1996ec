using System.Numerics;
using System.Runtime.CompilerServices;

namespace PeftEngine.Cpu;

/// <summary>
/// A small register-blocked product C = A·B for operands already laid out for it (A read with any strides, B and
/// C row-major), with no packing: the tile products of fused attention, the ragged edges of the GEMM's row form
/// (a few rows of C over a long, row-major B), and the GEMM's outer form (a short k over a wide C).
/// </summary>
internal static unsafe class TileProduct<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// y[0..n) = Σ_{c &lt; k} x[c·sx] · m[c·ld + 0..n), added to y when <paramref name="accumulate"/>. Four vectors
    /// of y stay in registers while the k rows of m stream past.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void VecMat(T* x, long sx, int k, T* m, long ld, int n, T* y, bool accumulate)
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
                var xc = GemmVector512<T>.Splat(x[c * sx]);
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
                a = GemmVector512<T>.MulAdd(GemmVector512<T>.Splat(x[c * sx]), GemmVector512<T>.Load(row), a);
            GemmVector512<T>.Store(y + j, a);
        }
        for (; j < n; j++)
        {
            T a = accumulate ? y[j] : T.Zero;
            for (int c = 0; c < k; c++) a += x[c * sx] * m[c * ld + j];
            y[j] = a;
        }
    }

    /// <summary>
    /// C(m, n) = A(m, k)·B(k, n), added to C when <paramref name="accumulate"/>; A has strides (lda, sa), so a
    /// transposed A is read in place (lda = 1), and B and C are row-major with row strides ldb and ldc. Four rows of C by four vectors of columns (16 accumulators) stay in registers
    /// while k streams past, so each step loads four vectors of B and broadcasts four elements of A for 16 FMAs.
    /// Every element is summed over k in increasing order with fused multiply-adds on whichever vector path
    /// computes it, so the result of a column does not depend on how many columns or rows are asked for
    /// (only the scalar tail of n, past the last whole vector, rounds differently).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MatMul(T* a, long lda, long sa, int m, int k, T* b, long ldb, int n, T* c, long ldc, bool accumulate)
    {
        int w = GemmVector512<T>.Count, i = 0;
        for (; i + 4 <= m; i += 4)
        {
            T* a0 = a + i * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
            T* c0 = c + i * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
            int j = 0;
            for (; j + 4 * w <= n; j += 4 * w)
                Block4x4(a0, a1, a2, a3, sa, k, b + j, ldb, c0 + j, c1 + j, c2 + j, c3 + j, accumulate);
            for (; j + w <= n; j += w)
            {
                var r0 = accumulate ? GemmVector512<T>.Load(c0 + j) : GemmVector512<T>.Zero;
                var r1 = accumulate ? GemmVector512<T>.Load(c1 + j) : GemmVector512<T>.Zero;
                var r2 = accumulate ? GemmVector512<T>.Load(c2 + j) : GemmVector512<T>.Zero;
                var r3 = accumulate ? GemmVector512<T>.Load(c3 + j) : GemmVector512<T>.Zero;
                T* row = b + j;
                for (int p = 0; p < k; p++, row += ldb)
                {
                    var bv = GemmVector512<T>.Load(row);
                    r0 = GemmVector512<T>.MulAdd(GemmVector512<T>.Splat(a0[p * sa]), bv, r0);
                    r1 = GemmVector512<T>.MulAdd(GemmVector512<T>.Splat(a1[p * sa]), bv, r1);
                    r2 = GemmVector512<T>.MulAdd(GemmVector512<T>.Splat(a2[p * sa]), bv, r2);
                    r3 = GemmVector512<T>.MulAdd(GemmVector512<T>.Splat(a3[p * sa]), bv, r3);
                }
                GemmVector512<T>.Store(c0 + j, r0);
                GemmVector512<T>.Store(c1 + j, r1);
                GemmVector512<T>.Store(c2 + j, r2);
                GemmVector512<T>.Store(c3 + j, r3);
            }
            if (j < n)
                for (int r = 0; r < 4; r++)
                    VecMat(a + (i + r) * lda, sa, k, b + j, ldb, n - j, c + (i + r) * ldc + j, accumulate);   // scalar tail
        }
        for (; i < m; i++) VecMat(a + i * lda, sa, k, b, ldb, n, c + i * ldc, accumulate);
    }

    /// <summary>The 4 x (4 vectors) register block of <see cref="MatMul"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block4x4(T* a0, T* a1, T* a2, T* a3, long sa, int k, T* b, long ldb, T* c0, T* c1, T* c2, T* c3, bool accumulate)
    {
        int w = GemmVector512<T>.Count;
        var z = GemmVector512<T>.Zero;
        var r00 = accumulate ? GemmVector512<T>.Load(c0) : z; var r01 = accumulate ? GemmVector512<T>.Load(c0 + w) : z;
        var r02 = accumulate ? GemmVector512<T>.Load(c0 + 2 * w) : z; var r03 = accumulate ? GemmVector512<T>.Load(c0 + 3 * w) : z;
        var r10 = accumulate ? GemmVector512<T>.Load(c1) : z; var r11 = accumulate ? GemmVector512<T>.Load(c1 + w) : z;
        var r12 = accumulate ? GemmVector512<T>.Load(c1 + 2 * w) : z; var r13 = accumulate ? GemmVector512<T>.Load(c1 + 3 * w) : z;
        var r20 = accumulate ? GemmVector512<T>.Load(c2) : z; var r21 = accumulate ? GemmVector512<T>.Load(c2 + w) : z;
        var r22 = accumulate ? GemmVector512<T>.Load(c2 + 2 * w) : z; var r23 = accumulate ? GemmVector512<T>.Load(c2 + 3 * w) : z;
        var r30 = accumulate ? GemmVector512<T>.Load(c3) : z; var r31 = accumulate ? GemmVector512<T>.Load(c3 + w) : z;
        var r32 = accumulate ? GemmVector512<T>.Load(c3 + 2 * w) : z; var r33 = accumulate ? GemmVector512<T>.Load(c3 + 3 * w) : z;
        for (int p = 0; p < k; p++, b += ldb)
        {
            var b0 = GemmVector512<T>.Load(b); var b1 = GemmVector512<T>.Load(b + w);
            var b2 = GemmVector512<T>.Load(b + 2 * w); var b3 = GemmVector512<T>.Load(b + 3 * w);
            var x = GemmVector512<T>.Splat(a0[p * sa]);
            r00 = GemmVector512<T>.MulAdd(x, b0, r00); r01 = GemmVector512<T>.MulAdd(x, b1, r01);
            r02 = GemmVector512<T>.MulAdd(x, b2, r02); r03 = GemmVector512<T>.MulAdd(x, b3, r03);
            x = GemmVector512<T>.Splat(a1[p * sa]);
            r10 = GemmVector512<T>.MulAdd(x, b0, r10); r11 = GemmVector512<T>.MulAdd(x, b1, r11);
            r12 = GemmVector512<T>.MulAdd(x, b2, r12); r13 = GemmVector512<T>.MulAdd(x, b3, r13);
            x = GemmVector512<T>.Splat(a2[p * sa]);
            r20 = GemmVector512<T>.MulAdd(x, b0, r20); r21 = GemmVector512<T>.MulAdd(x, b1, r21);
            r22 = GemmVector512<T>.MulAdd(x, b2, r22); r23 = GemmVector512<T>.MulAdd(x, b3, r23);
            x = GemmVector512<T>.Splat(a3[p * sa]);
            r30 = GemmVector512<T>.MulAdd(x, b0, r30); r31 = GemmVector512<T>.MulAdd(x, b1, r31);
            r32 = GemmVector512<T>.MulAdd(x, b2, r32); r33 = GemmVector512<T>.MulAdd(x, b3, r33);
        }
        GemmVector512<T>.Store(c0, r00); GemmVector512<T>.Store(c0 + w, r01); GemmVector512<T>.Store(c0 + 2 * w, r02); GemmVector512<T>.Store(c0 + 3 * w, r03);
        GemmVector512<T>.Store(c1, r10); GemmVector512<T>.Store(c1 + w, r11); GemmVector512<T>.Store(c1 + 2 * w, r12); GemmVector512<T>.Store(c1 + 3 * w, r13);
        GemmVector512<T>.Store(c2, r20); GemmVector512<T>.Store(c2 + w, r21); GemmVector512<T>.Store(c2 + 2 * w, r22); GemmVector512<T>.Store(c2 + 3 * w, r23);
        GemmVector512<T>.Store(c3, r30); GemmVector512<T>.Store(c3 + w, r31); GemmVector512<T>.Store(c3 + 2 * w, r32); GemmVector512<T>.Store(c3 + 3 * w, r33);
    }
}
