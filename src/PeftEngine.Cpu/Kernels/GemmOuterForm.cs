using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace PeftEngine.Cpu;

/// <summary>
/// Products with a short k and a wide C, as the up-projection of a LoRA adapter of rank r, h · Bᵀ (tokens x r times
/// r x width), and its input gradient dh · A: each element of C is a sum of at most <see cref="MaxK"/> products, so
/// C is the sum of k outer products <c>C = Σ_p A[:, p] ⊗ B[p, :]</c>. Blocks of 4 rows x 4 vectors of C sum all k
/// of them in registers and are stored once (<see cref="TileProduct{T}.MatMul"/>): C, the big operand here, is
/// written exactly once, four rows at a time in 256-byte runs, and never read.
/// </summary>
/// <remarks>
/// Why not the blocked kernel: with k this short its 12 x 32 tiles do little arithmetic per store and write C twelve
/// rows at a time, 128 bytes per row (the slowest write pattern measured here: 56 GB/s for 8 MiB on 2 threads, against
/// 74 for four rows in 512-byte runs and 81 for whole rows); it also packs all of B on every call. Measured with both
/// in one process (f32, 2 threads, width 4096, medians of three processes; docs/PERFORMANCE.md): 512 tokens at
/// r = 8, 144–161 GFLOP/s in the blocked kernel against 197–275 here; r = 16, 204–223 against 280–324; r = 4, 73–78
/// against 132–153; 64 tokens at r = 8, 50–57 against 141–155. A C of 32 MiB (2048 tokens) is better streamed to
/// memory by the blocked kernel (r = 8: 216–225 against 183–195), hence <see cref="MaxCBytes"/>; at r = 24 the two
/// are level, hence <see cref="MaxK"/>.
/// Each thread takes one contiguous range of rows and walks B in strips whose k rows fit in L1 while its rows pass
/// over them. Every element is one chain of fused multiply-adds over p in increasing order whichever thread computes
/// it, so results do not depend on the thread count.
/// </remarks>
internal static unsafe class GemmOuterForm<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The longest k this form takes.</summary>
    public const int MaxK = 16;

    /// <summary>The narrowest C this form takes (narrower ones have other forms).</summary>
    public const int MinN = 128;

    /// <summary>The largest C (bytes of one matrix) this form takes; a larger one is written by the blocked kernel's
    /// streaming stores (r = 8: level at 12–16 MiB, the blocked kernel 15% ahead at 32 MiB).</summary>
    public const long MaxCBytes = 16L << 20;

    /// <summary>Rows of C per step within a strip (the height of the scratch tile when beta is not 0).</summary>
    private const int GroupRows = 32;

    /// <summary>Bytes of B per strip: the k rows of a band of columns, kept in L1 while a thread's rows of C pass
    /// over them. Measured at r = 8 (512 and 2048 tokens): strips of 512, 1024, 2048 and 4096 columns gave medians
    /// of 233–261, 283–295, 214–222 and 214–221 GFLOP/s at 512 tokens; 1024 columns (32 KiB) also led at 2048.</summary>
    private const int StripBytes = 32 * 1024;

    /// <summary>Whether g has the shape this form is for (any strides; alpha and beta are applied as it writes).</summary>
    public static bool Suits(in GemmArgs<T> g) =>
        g.K <= MaxK && g.N >= MinN && g.M > 1 && (long)g.M * g.N * sizeof(T) <= MaxCBytes;

    /// <summary>C[t] = alpha · A[t] · B[t] + beta · C[t] for matrix t of the batch.</summary>
    public static void Run(GemmArgs<T> g, long t, bool parallel)
    {
        T* a = g.A + t * g.BatchStrideA, b = g.B + t * g.BatchStrideB, c = g.C + t * g.BatchStrideC;
        int m = g.M, n = g.N, k = g.K;
        long lda = g.RowStrideA, sa = g.ColStrideA, ldc = g.Ldc, sRow = g.RowStrideB, sCol = g.ColStrideB;
        T alpha = g.Alpha, beta = g.Beta;
        // Strips are whole multiples of the 4-vector block, so only the last one can have a tail of columns.
        int block = 4 * GemmVector512<T>.Count;
        int strip = Math.Max(block, StripBytes / (k * sizeof(T)) / block * block);
        // A B stored by columns (a Linear layer's weight W, n x k, read as Wᵀ) is copied a strip at a time into k
        // contiguous rows with the GEMM's packing transposes, by each thread for the strips it uses (k·n elements
        // per thread: about 2.5 µs at r = 8, width 4096), so no thread waits for another's copy. The copy's rows are padded by one block so that they
        // do not all fall on the same L1 sets.
        bool copyB = sCol != 1;
        int ldCopy = strip + block;
        // beta = 0 writes the sums straight into C (scaled in place when alpha is not 1); otherwise a group of rows
        // is summed into a scratch tile and then combined with C.
        bool direct = beta == T.Zero;
        // One task per thread, a contiguous range of rows each (whole 4-row blocks): every element is one chain of
        // fused multiply-adds over p in order whichever task computes it, so the split does not change results.
        int tasks = parallel ? Math.Clamp(CpuParallel.Threads, 1, (m + 3) / 4) : 1;
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void Rows(long t0, long t1)
        {
            using var rows = new PooledBlock<T>(copyB ? (long)k * ldCopy : 0);
            using var tile = new PooledBlock<T>(direct ? 0 : (long)GroupRows * strip);
            for (long task = t0; task < t1; task++)
            {
                int r0 = RowAt(task, tasks, m), r1 = RowAt(task + 1, tasks, m);
                for (int j0 = 0; j0 < n; j0 += strip)
                {
                    int cols = Math.Min(strip, n - j0);
                    T* bs = b + j0 * sCol;
                    long ldb = sRow;
                    if (copyB)
                    {
                        // (k, cols) of B -> rows[p·ldCopy + j]: a packing panel ldCopy wide (its padding zeroed)
                        GemmPacking.Panel(bs, sCol, sRow, cols, ldCopy, k, rows.Ptr);
                        bs = rows.Ptr;
                        ldb = ldCopy;
                    }
                    for (int i0 = r0; i0 < r1; i0 += GroupRows)
                    {
                        int count = Math.Min(GroupRows, r1 - i0);
                        T* ai = a + i0 * lda, ci = c + i0 * ldc + j0;
                        if (direct)
                        {
                            TileProduct<T>.MatMul(ai, lda, sa, count, k, bs, ldb, cols, ci, ldc, accumulate: false);
                            if (alpha != T.One)
                                for (int r = 0; r < count; r++)
                                {
                                    var y = new Span<T>(ci + r * ldc, cols);
                                    TensorPrimitives.Multiply(y, alpha, y);
                                }
                        }
                        else
                        {
                            TileProduct<T>.MatMul(ai, lda, sa, count, k, bs, ldb, cols, tile.Ptr, strip, accumulate: false);
                            GemmVectorPath<T>.WriteTile(tile.Ptr, strip, count, cols, ci, ldc, 1, alpha, beta);
                        }
                    }
                }
            }
        }
        if (tasks > 1) CpuParallel.For(tasks, (long)m * n * k / tasks, Rows);
        else Rows(0, 1);
    }

    /// <summary>The first row of task <paramref name="task"/> of <paramref name="tasks"/>: equal shares of whole
    /// 4-row blocks.</summary>
    private static int RowAt(long task, int tasks, int m) => (int)Math.Min(m, (m + 3) / 4 * task / tasks * 4);
}
