using System.Numerics;
using System.Runtime.CompilerServices;

namespace PeftEngine.Cpu;

/// <summary>
/// A register-blocked dot-product kernel for products whose operands are both contiguous along k (rows of A,
/// columns of B, as in x · Wᵀ): it computes a 4 x 4 block of C as 16 dot products at once, loading each
/// vector of the 4 rows and 4 columns once for 4 multiply-adds. No packing is needed, which is what makes it the
/// better choice when C is narrow (a few rows or columns) and packing would copy a whole big operand.
/// </summary>
/// <remarks>Each of the 16 sums runs the same way: lane-wise partial sums over k in steps of the vector
/// width, then the lanes added, then the leftover elements in order. A result therefore depends only on its
/// own row, column and k, never on where in the block (or in C) it sits.</remarks>
internal static unsafe class GemmDotKernel<TOps, TV, T>
    where TOps : IGemmVector<TV, T>
    where TV : struct
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>s[4 r + c] = Σ_p a_r[p] · b_c[p] for rows a0..a3 and columns b0..b3 of length k.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Block(T* a0, T* a1, T* a2, T* a3, T* b0, T* b1, T* b2, T* b3, int k, T* s)
    {
        TV c00 = TOps.Zero, c01 = TOps.Zero, c02 = TOps.Zero, c03 = TOps.Zero, c10 = TOps.Zero, c11 = TOps.Zero, c12 = TOps.Zero, c13 = TOps.Zero;
        TV c20 = TOps.Zero, c21 = TOps.Zero, c22 = TOps.Zero, c23 = TOps.Zero, c30 = TOps.Zero, c31 = TOps.Zero, c32 = TOps.Zero, c33 = TOps.Zero;
        int w = TOps.Count, p = 0;
        for (; p + w <= k; p += w)
        {
            TV x0 = TOps.Load(a0 + p), x1 = TOps.Load(a1 + p), x2 = TOps.Load(a2 + p), x3 = TOps.Load(a3 + p);
            TV y;
            y = TOps.Load(b0 + p);
            c00 = TOps.MulAdd(x0, y, c00); c10 = TOps.MulAdd(x1, y, c10);
            c20 = TOps.MulAdd(x2, y, c20); c30 = TOps.MulAdd(x3, y, c30);
            y = TOps.Load(b1 + p);
            c01 = TOps.MulAdd(x0, y, c01); c11 = TOps.MulAdd(x1, y, c11);
            c21 = TOps.MulAdd(x2, y, c21); c31 = TOps.MulAdd(x3, y, c31);
            y = TOps.Load(b2 + p);
            c02 = TOps.MulAdd(x0, y, c02); c12 = TOps.MulAdd(x1, y, c12);
            c22 = TOps.MulAdd(x2, y, c22); c32 = TOps.MulAdd(x3, y, c32);
            y = TOps.Load(b3 + p);
            c03 = TOps.MulAdd(x0, y, c03); c13 = TOps.MulAdd(x1, y, c13);
            c23 = TOps.MulAdd(x2, y, c23); c33 = TOps.MulAdd(x3, y, c33);
        }
        s[0] = TOps.Sum(c00); s[1] = TOps.Sum(c01); s[2] = TOps.Sum(c02); s[3] = TOps.Sum(c03);
        s[4] = TOps.Sum(c10); s[5] = TOps.Sum(c11); s[6] = TOps.Sum(c12); s[7] = TOps.Sum(c13);
        s[8] = TOps.Sum(c20); s[9] = TOps.Sum(c21); s[10] = TOps.Sum(c22); s[11] = TOps.Sum(c23);
        s[12] = TOps.Sum(c30); s[13] = TOps.Sum(c31); s[14] = TOps.Sum(c32); s[15] = TOps.Sum(c33);
        for (; p < k; p++)
        {
            T y0 = b0[p], y1 = b1[p], y2 = b2[p], y3 = b3[p];
            TailRow(a0[p], y0, y1, y2, y3, s);
            TailRow(a1[p], y0, y1, y2, y3, s + 4);
            TailRow(a2[p], y0, y1, y2, y3, s + 8);
            TailRow(a3[p], y0, y1, y2, y3, s + 12);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TailRow(T x, T y0, T y1, T y2, T y3, T* s)
    {
        s[0] = T.FusedMultiplyAdd(x, y0, s[0]);
        s[1] = T.FusedMultiplyAdd(x, y1, s[1]);
        s[2] = T.FusedMultiplyAdd(x, y2, s[2]);
        s[3] = T.FusedMultiplyAdd(x, y3, s[3]);
    }
}
