using System.Numerics;
using System.Runtime.CompilerServices;

namespace PeftEngine.Cpu;

/// <summary>
/// A register-blocked dot-product kernel for products whose operands are both contiguous along k (rows of A,
/// columns of B, as in x · Wᵀ): it computes a 4 x 4 block of C as 16 dot products at once, loading each
/// vector of the 4 rows and 4 columns once for 4 multiply-adds (or a 4 x 6 block, with 32 vector registers). No packing is needed, which is what makes it the
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

    /// <summary>s[6 r + c] = Σ_p a_r[p] · b_c[p] for rows a0..a3 and columns b[0..6] of length k: the same sums as
    /// <see cref="Block"/>, six columns at a time (24 accumulators, for 32-register vector units): 10 vector loads
    /// per 24 multiply-adds instead of 8 per 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Block4x6(T* a0, T* a1, T* a2, T* a3, T** b, int k, T* s)
    {
        T* b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3], b4 = b[4], b5 = b[5];
        TV c00 = TOps.Zero, c01 = TOps.Zero, c02 = TOps.Zero, c03 = TOps.Zero, c04 = TOps.Zero, c05 = TOps.Zero;
        TV c10 = TOps.Zero, c11 = TOps.Zero, c12 = TOps.Zero, c13 = TOps.Zero, c14 = TOps.Zero, c15 = TOps.Zero;
        TV c20 = TOps.Zero, c21 = TOps.Zero, c22 = TOps.Zero, c23 = TOps.Zero, c24 = TOps.Zero, c25 = TOps.Zero;
        TV c30 = TOps.Zero, c31 = TOps.Zero, c32 = TOps.Zero, c33 = TOps.Zero, c34 = TOps.Zero, c35 = TOps.Zero;
        int w = TOps.Count, p = 0;
        for (; p + w <= k; p += w)
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
        s[0] = TOps.Sum(c00); s[1] = TOps.Sum(c01); s[2] = TOps.Sum(c02); s[3] = TOps.Sum(c03); s[4] = TOps.Sum(c04); s[5] = TOps.Sum(c05);
        s[6] = TOps.Sum(c10); s[7] = TOps.Sum(c11); s[8] = TOps.Sum(c12); s[9] = TOps.Sum(c13); s[10] = TOps.Sum(c14); s[11] = TOps.Sum(c15);
        s[12] = TOps.Sum(c20); s[13] = TOps.Sum(c21); s[14] = TOps.Sum(c22); s[15] = TOps.Sum(c23); s[16] = TOps.Sum(c24); s[17] = TOps.Sum(c25);
        s[18] = TOps.Sum(c30); s[19] = TOps.Sum(c31); s[20] = TOps.Sum(c32); s[21] = TOps.Sum(c33); s[22] = TOps.Sum(c34); s[23] = TOps.Sum(c35);
        T* x = stackalloc T[4];
        for (; p < k; p++)
        {
            T y0 = b0[p], y1 = b1[p], y2 = b2[p], y3 = b3[p], y4 = b4[p], y5 = b5[p];
            x[0] = a0[p]; x[1] = a1[p]; x[2] = a2[p]; x[3] = a3[p];
            for (int r = 0; r < 4; r++)
            {
                T* sr = s + 6 * r;
                sr[0] = T.FusedMultiplyAdd(x[r], y0, sr[0]); sr[1] = T.FusedMultiplyAdd(x[r], y1, sr[1]);
                sr[2] = T.FusedMultiplyAdd(x[r], y2, sr[2]); sr[3] = T.FusedMultiplyAdd(x[r], y3, sr[3]);
                sr[4] = T.FusedMultiplyAdd(x[r], y4, sr[4]); sr[5] = T.FusedMultiplyAdd(x[r], y5, sr[5]);
            }
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
