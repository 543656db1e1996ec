using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PeftEngine.Cpu;

/// <summary>
/// The dot form over blocks of rows, for a C with few columns and at least as many rows (x · Aᵀ, the down-projection
/// of a LoRA adapter of rank r: C is tokens x r). Every C[i, j] is the dot product of row i of A (the long operand,
/// x) with column j of B (the narrow one, A of the adapter), both contiguous along k.
/// <para>
/// At width 4096 the narrow operand is r x 4096 (128 KiB at r = 8): larger than L1, so a block that walked all of k
/// at once would fetch both of its operands from L2 on every step. k is therefore cut into stretches whose slice of
/// the narrow operand fits in L1 (<see cref="StretchBytes"/>), and a group of row blocks takes each stretch in turn:
/// the slice is fetched from L2 once per group instead of once per block, while each row of x still streams through
/// exactly once. The blocks' lane-wise partial sums wait in memory between stretches (<see cref="AccBytes"/>).
/// </para>
/// <para>
/// Blocks are 3 x 8 when C has exactly eight columns and the vector unit has 32 registers (each vector of x loaded
/// once), otherwise 4 x 6 and 4 x 4 (<see cref="GemmDotKernel{TOps, TV, T}"/>). Rows and columns
/// past the edge repeat the last one; their results are dropped.
/// </para>
/// </summary>
/// <remarks>Each result is summed lane-wise over k in order, its lanes added, then the leftover elements (see
/// <see cref="GemmDotKernel{TOps, TV, T}"/>): the same bits for any stretch length, block shape or thread
/// count.</remarks>
internal static unsafe class GemmDotRows<TOps, TV, T>
    where TOps : IGemmVector<TV, T>
    where TV : struct
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Bytes of the narrow operand one stretch of k covers: its slice stays in L1 while a group of row blocks
    /// takes it.</summary>
    private const int StretchBytes = 32 * 1024;

    /// <summary>Stretches are never shorter than this many elements of k. Shorter runs of each row of x cost more in
    /// the stream than the L1-resident slice saves: at r = 16 (2 threads, 512 x 4096), 512-element stretches measured
    /// 10–20% slower than all of k at once, and 1024-element ones (a 64 KiB slice, from L2) no faster; so only a
    /// narrow operand of at most 8 f32 columns (4 f64) is cut into stretches.</summary>
    private const int MinStretch = 1024;

    /// <summary>Bytes of lane-wise partial sums one group of row blocks keeps between stretches (which sets the
    /// group's size: eight 3 x 8 blocks, 24 rows of x, at r = 8).</summary>
    private const int AccBytes = 12 * 1024;

    /// <summary>Multiply-adds each thread gets at the least; a smaller product runs on fewer threads. Two threads
    /// against one at r = 8 (width 4096 unless stated): 24 tokens (786 K) 78–85 against 110–112 GFLOP/s, 64 tokens at
    /// width 1024 (524 K) 60–61 against 80–84; 40 tokens (1.3 M) 104–110 against 96–97, and r = 16 at 32 tokens
    /// (2 M) 142–146 against 103–106.</summary>
    private const long MinTaskWork = 1 << 19;

    /// <summary>x at least this large is taken to come from memory rather than the last-level cache, and the 3 x 8
    /// blocks prefetch the next block's rows into L1. Measured at r = 8 (width 4096, 2 threads, interleaved against
    /// no prefetch): 2048 tokens (32 MiB) +28–38%, 1024 tokens (16 MiB) +6–18%, but 512 tokens (8 MiB) −27–+6% and
    /// 32 tokens (x in L2) −5–−23%, where the prefetched lines push the stretch of A out of L1.</summary>
    private const long PrefetchMinBytes = 16L << 20;

    /// <summary>C (m x n, rows ldc apart) = alpha · A · B + beta · C, row i of A at a + i·ra and column j of B at
    /// b + j·cb, each contiguous along k.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(T* a, long ra, T* b, long cb, int m, int n, int k, T* c, long ldc, T alpha, T beta, bool parallel)
    {
        bool wide = typeof(TV) == typeof(Vector512<T>) && Vector512.IsHardwareAccelerated;
        int w = TOps.Count;
        // The block shape: 3 x 8 for eight columns, otherwise four rows by groups of columns (see Width).
        int rows = wide && n == 8 ? 3 : 4;
        int padded = 0;                                                     // n rounded up to whole groups
        for (int j0 = 0; j0 < n; j0 += Width(j0)) padded += Width(j0);
        // k in stretches of equal length (whole vectors) whose slice of B fits in StretchBytes; the leftover
        // elements past the last whole vector are added by Finish.
        int kv = k - k % w;
        int stretches = (long)padded * MinStretch * sizeof(T) > StretchBytes ? 1
            : Math.Max(1, (int)(((long)padded * kv * sizeof(T) + StretchBytes - 1) / StretchBytes));
        int stretch = Math.Max(w, ((kv / w + stretches - 1) / stretches) * w);
        int blockAcc = rows * padded * w;                                   // partial sums of one row block (elements)
        int group = Math.Max(1, AccBytes / (blockAcc * sizeof(T)));         // row blocks per group
        int rowBlocks = (m + rows - 1) / rows;
        bool prefetch = (long)m * k * sizeof(T) >= PrefetchMinBytes;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void Blocks(long r0, long r1)
        {
            using var accBlock = new PooledBlock<T>((long)group * blockAcc);
            T* acc = accBlock.Ptr;
            T** x = stackalloc T*[4], next = stackalloc T*[4];
            SetRows(next, 0);                                               // read only when prefetching
            T** cols = stackalloc T*[padded];
            for (int j = 0; j < padded; j++) cols[j] = b + Math.Min(j, n - 1) * cb;
            for (long g0 = r0; g0 < r1; g0 += group)
            {
                int blocks = (int)Math.Min(group, r1 - g0);
                new Span<T>(acc, blocks * blockAcc).Clear();
                for (int p0 = 0; p0 < kv; p0 += stretch)
                {
                    int p1 = Math.Min(kv, p0 + stretch);
                    for (int bi = 0; bi < blocks; bi++)
                    {
                        SetRows(x, (int)(g0 + bi) * rows);
                        if (prefetch)
                        {
                            // The rows to prefetch: the block that follows in this walk (the group's next block, or
                            // its first one in the next stretch).
                            bool last = bi + 1 == blocks;
                            SetRows(next, (int)(last ? g0 : g0 + bi + 1) * rows);
                            int shift = last && p1 + stretch <= kv ? stretch : 0;
                            for (int r = 0; r < rows; r++) next[r] += shift;
                        }
                        T* blockSums = acc + bi * blockAcc;
                        for (int j0 = 0; j0 < n; j0 += Width(j0))
                            GemmDotKernel<TOps, TV, T>.Accumulate(rows, Width(j0), x, cols + j0, p0, p1, blockSums + rows * j0 * w, next, prefetch);
                    }
                }
                for (int bi = 0; bi < blocks; bi++)
                {
                    int i0 = (int)(g0 + bi) * rows;
                    SetRows(x, i0);
                    for (int j0 = 0; j0 < n; j0 += Width(j0))
                    {
                        GemmDotKernel<TOps, TV, T>.Finish(rows, Width(j0), x, cols + j0, kv, k, acc + bi * blockAcc + rows * j0 * w,
                            c + i0 * ldc + j0, ldc, m - i0, n - j0, alpha, beta);
                    }
                }
            }
        }

        // Columns per block from column j0 on: eight in 3 x 8 blocks; otherwise six (with 32 vector registers) while
        // that leaves none or at least four, then fours.
        int Width(int j0) => rows == 3 ? 8 : wide && (n - j0 >= 10 || n - j0 == 6) ? 6 : 4;

        void SetRows(T** x, int i0)
        {
            for (int r = 0; r < rows; r++) x[r] = a + Math.Min(i0 + r, m - 1) * ra;
        }

        // One contiguous range of row blocks per thread, the same on every call: each core then finds its share of x
        // where it left it, in its own part of the cache (2 threads, 512 x 4096 x 8: +11–13% over handing out
        // groups as threads come free). The ranges differ by at most one block (whole groups per thread left one
        // thread 48 blocks against 38 at 256 tokens; the even split measured +12–15% there, +2–7% at 128 tokens).
        int tasks = parallel ? (int)Math.Clamp((long)m * n * k / MinTaskWork, 1, Math.Min(CpuParallel.Threads, rowBlocks)) : 1;
        if (tasks > 1)
            CpuParallel.For(tasks, (long)m * n * k / tasks, (t0, t1) =>
            {
                for (long t = t0; t < t1; t++) Blocks((long)rowBlocks * t / tasks, (long)rowBlocks * (t + 1) / tasks);
            });
        else Blocks(0, rowBlocks);
    }
}
