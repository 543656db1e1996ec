using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace PeftEngine.Cpu;

/// <summary>
/// The rank-4 row update for a C with few rows against a long B stored by rows (the gradient of a LoRA factor,
/// dA = dhᵀ · x with m = r): <c>C[i, :] += A[i, p] · B[p, :] + ... + A[i, p+3] · B[p+3, :]</c>, four rows of C and
/// four rows of B at a time, over a band of columns. The band of C stays in L1 while B streams past in long
/// contiguous runs, which the hardware prefetchers follow; each vector of C is loaded and stored once per four
/// steps of k, for 16 fused multiply-adds.
/// </summary>
/// <remarks>Why not keep C in registers and walk B by column strips: a strip touches one or two cache lines per row
/// of B, and B's rows are often a power of two apart (16 KiB for a width of 4096), a pattern neither the caches nor
/// the prefetchers handle. Measured on dA = dhᵀ · x (512 tokens, width 4096, 2 threads, both forms in one process,
/// three processes): r = 16, 143–155 GFLOP/s here against 82–87 for 4 x 4 tile products over 64-column strips of B
/// read in place; r = 8, 117–137 against 77–89. Every element is still one chain of fused multiply-adds over p in increasing order, stored and reloaded
/// between groups of four (exactly), so the sums equal <see cref="TileProduct{T}.MatMul"/>'s.</remarks>
internal static unsafe class GemmRowUpdate<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>c_r[0..n) = Σ_{q&lt;4} a[r·lda + q·sa] · b_q[0..n) + c_r[0..n) for the four rows r of C
    /// (c + r·ldc) and the four rows q of B (b + q·ldb): steps p..p+3 of k for rows i..i+3. The same columns of the
    /// four rows from <paramref name="next"/> on (ldb apart) are prefetched into
    /// L1 on the way, one line per row and step, when <typeparamref name="TPrefetch"/> says so (a type argument, so
    /// that the loop without prefetches carries no trace of them: this loop's loads and stores already fill the
    /// memory ports).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rank4x4<TPrefetch>(T* a, long lda, long sa, T* b, long ldb, T* c, long ldc, int n, T* next)
        where TPrefetch : IPrefetchChoice
    {
        // (4 rows of C, 4 steps of k): the 16 multipliers
        var a00 = GemmVector512<T>.Splat(a[0]); var a01 = GemmVector512<T>.Splat(a[sa]);
        var a02 = GemmVector512<T>.Splat(a[2 * sa]); var a03 = GemmVector512<T>.Splat(a[3 * sa]);
        T* a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda;
        var a10 = GemmVector512<T>.Splat(a1[0]); var a11 = GemmVector512<T>.Splat(a1[sa]);
        var a12 = GemmVector512<T>.Splat(a1[2 * sa]); var a13 = GemmVector512<T>.Splat(a1[3 * sa]);
        var a20 = GemmVector512<T>.Splat(a2[0]); var a21 = GemmVector512<T>.Splat(a2[sa]);
        var a22 = GemmVector512<T>.Splat(a2[2 * sa]); var a23 = GemmVector512<T>.Splat(a2[3 * sa]);
        var a30 = GemmVector512<T>.Splat(a3[0]); var a31 = GemmVector512<T>.Splat(a3[sa]);
        var a32 = GemmVector512<T>.Splat(a3[2 * sa]); var a33 = GemmVector512<T>.Splat(a3[3 * sa]);
        T* b1 = b + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
        T* c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        T* n1 = next + ldb, n2 = n1 + ldb, n3 = n2 + ldb;
        int w = GemmVector512<T>.Count;
        for (int j = 0; j + w <= n; j += w)
        {
            var x0 = GemmVector512<T>.Load(b + j); var x1 = GemmVector512<T>.Load(b1 + j);
            var x2 = GemmVector512<T>.Load(b2 + j); var x3 = GemmVector512<T>.Load(b3 + j);
            if (TPrefetch.On && Sse.IsSupported)
            {
                Sse.Prefetch0(next + j);
                Sse.Prefetch0(n1 + j);
                Sse.Prefetch0(n2 + j);
                Sse.Prefetch0(n3 + j);
            }
            var y = GemmVector512<T>.Load(c + j);
            y = GemmVector512<T>.MulAdd(a00, x0, y); y = GemmVector512<T>.MulAdd(a01, x1, y);
            y = GemmVector512<T>.MulAdd(a02, x2, y); y = GemmVector512<T>.MulAdd(a03, x3, y);
            GemmVector512<T>.Store(c + j, y);
            y = GemmVector512<T>.Load(c1 + j);
            y = GemmVector512<T>.MulAdd(a10, x0, y); y = GemmVector512<T>.MulAdd(a11, x1, y);
            y = GemmVector512<T>.MulAdd(a12, x2, y); y = GemmVector512<T>.MulAdd(a13, x3, y);
            GemmVector512<T>.Store(c1 + j, y);
            y = GemmVector512<T>.Load(c2 + j);
            y = GemmVector512<T>.MulAdd(a20, x0, y); y = GemmVector512<T>.MulAdd(a21, x1, y);
            y = GemmVector512<T>.MulAdd(a22, x2, y); y = GemmVector512<T>.MulAdd(a23, x3, y);
            GemmVector512<T>.Store(c2 + j, y);
            y = GemmVector512<T>.Load(c3 + j);
            y = GemmVector512<T>.MulAdd(a30, x0, y); y = GemmVector512<T>.MulAdd(a31, x1, y);
            y = GemmVector512<T>.MulAdd(a32, x2, y); y = GemmVector512<T>.MulAdd(a33, x3, y);
            GemmVector512<T>.Store(c3 + j, y);
        }
    }

    /// <summary>c[0..n) += a · b[0..n): one row of C, one step of k (n a multiple of the vector width).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rank1(T a, T* b, T* c, int n)
    {
        var s = GemmVector512<T>.Splat(a);
        int w = GemmVector512<T>.Count;
        for (int j = 0; j + w <= n; j += w)
            GemmVector512<T>.Store(c + j, GemmVector512<T>.MulAdd(s, GemmVector512<T>.Load(b + j), GemmVector512<T>.Load(c + j)));
    }
}
