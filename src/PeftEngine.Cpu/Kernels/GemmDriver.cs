using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace PeftEngine.Cpu;

/// <summary>
/// The blocked GEMM of Goto and van de Geijn (the BLIS loop nest) around a register-blocked micro-kernel
/// <typeparamref name="TK"/>:
/// <code>
/// for jc in 0..N step NC                 columns of C and B           (B block lives in L3)
///   for pc in 0..K step kc               the shared dimension, kc ≤ KC
///     pack B[pc.., jc..] into NR-wide panels, kc x nc
///     for ic in 0..M step mc             rows of C and A              (A block lives in L2)
///       pack A[ic.., pc..] into MR-wide panels, mc x kc
///       for jr in 0..nc step NR          one B panel                  (kc x NR, from L2)
///         for ir in 0..mc step MR        one A panel                  (MR x kc, from L1)
///           micro-kernel: C[ir.., jr..] (MR x NR) += A panel · B panel
/// </code>
/// </summary>
/// <remarks>
/// Threads split the (ic, jr) tiles of each (jc, pc) step; the pc loop stays in order, and the k blocking
/// depends only on K and the micro-kernel, so every element of C is summed in the same order whatever the thread
/// count (the row blocks are cut to balance the threads, which changes who computes an element, never how).
/// Reference: K. Goto and R. van de Geijn, "Anatomy of high-performance matrix multiplication" (2008);
/// F. Van Zee and R. van de Geijn, "BLIS: a framework for rapidly instantiating BLAS functionality" (2015).
/// </remarks>
internal static unsafe class GemmDriver<TK, T>
    where TK : IGemmMicroKernel<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The deepest k block: C is read and written once per k block, so deep blocks save C traffic, up
    /// to where an MR x kc panel of A (36 KiB in f32) still fits the L1 cache beside the stream of B.
    /// Measured on a 2-core Zen 5 (n = 1024..4096, f32): 256 loses 8–18% to 768; 1024 gains nothing more.</summary>
    public static int KC => 3072 / sizeof(T);

    /// <summary>Rows of A per packed block (about 256 KiB at the deepest kc, in the L2 cache); a multiple of MR.</summary>
    public static int MC => Math.Max(1, 262144 / (KC * sizeof(T)) / TK.MR) * TK.MR;

    /// <summary>Columns of B per packed block (a few MiB, in the L3 cache); a multiple of NR.</summary>
    public static int NC => 4096 / TK.NR * TK.NR;

    /// <summary>Below this many multiply-adds per matrix, a batch runs one matrix per thread rather than
    /// splitting each matrix over the threads.</summary>
    private const long SmallMatrixWork = 1L << 22;

    /// <summary>A C of at least this many bytes, written once (a single k block, beta 0), is written with
    /// non-temporal stores: it is too large to stay in the cache for whoever reads it next, and streaming it skips
    /// reading every line of C into the cache just to overwrite it (half the memory traffic of the store).</summary>
    public const long StreamBytes = 4L << 20;

    /// <summary>Whether the C of one matrix at <paramref name="c"/> is streamed (see <see cref="StreamBytes"/>):
    /// full micro-tiles then start on 64-byte boundaries, since rows and NR-wide column steps are multiples of 64
    /// bytes.</summary>
    private static bool Streams(in GemmArgs<T> g, T* c) =>
        g.K <= KC && g.Beta == T.Zero && (long)g.M * g.N * sizeof(T) >= StreamBytes
        && ((nint)c & 63) == 0 && g.Ldc * sizeof(T) % 64 == 0;

    /// <summary>Computes the batched GEMM described by <paramref name="g"/> (M, N, K all positive).</summary>
    public static void Run(GemmArgs<T> g)
    {
        long work = (long)g.M * g.N * g.K;
        if (g.Batch > 1 && (work < SmallMatrixWork || g.Batch >= 4 * CpuParallel.Threads))
        {
            // Many matrices: each thread takes whole matrices, one after another.
            CpuParallel.For(g.Batch, work, (t0, t1) =>
            {
                using var ws = new Workspace(parallel: false, g.N);
                for (long t = t0; t < t1; t++) Matrix(g, t, ws);
            });
            return;
        }
        using var shared = new Workspace(parallel: true, g.N);
        for (int t = 0; t < g.Batch; t++) Matrix(g, t, shared);
    }

    /// <summary>One matrix of the batch, split over the threads when the workspace says so.</summary>
    private static void Matrix(in GemmArgs<T> g, long t, Workspace ws)
    {
        // A and B are addressed by element offsets, since a 16-bit operand's elements are not T-sized.
        long a = t * g.BatchStrideA, b = t * g.BatchStrideB;
        T* c = g.C + t * g.BatchStrideC;
        int ncMax = NC, nr = TK.NR;
        // k blocks of equal depth (a multiple of 8), as few as KC allows: with KC = 768, K = 1024 runs as two
        // blocks of 512 rather than 768 + 256.
        int kSteps = (g.K + KC - 1) / KC;
        int kcStep = Math.Min(KC, ((g.K + kSteps - 1) / kSteps + 7) / 8 * 8);
        bool stream = Streams(g, c);
        for (int jc = 0; jc < g.N; jc += ncMax)
        {
            int nc = Math.Min(ncMax, g.N - jc);
            int panels = (nc + nr - 1) / nr;
            for (int pc = 0; pc < g.K; pc += kcStep)
            {
                int kc = Math.Min(kcStep, g.K - pc);
                T beta = pc == 0 ? g.Beta : T.One; // later k blocks add to what the first one wrote
                T* bias = pc == 0 && g.Bias != null ? g.Bias + jc : null; // and the first one adds the bias
                long bSrc = b + pc * g.RowStrideB + jc * g.ColStrideB;
                T* bPacked = ws.B;
                long rsB = g.RowStrideB, csB = g.ColStrideB;
                var source = g;

                // Pack B once for all row blocks.
                [MethodImpl(MethodImplOptions.AggressiveOptimization)]
                void PackB(long p0, long p1)
                {
                    for (long q = p0; q < p1; q++)
                    {
                        int j = (int)q * nr;
                        GemmPacking.Panel(source.SourceB, source.BAt(bSrc + j * csB), csB, rsB, Math.Min(nr, nc - j), nr, kc, bPacked + (long)j * kc);
                    }
                }
                if (ws.Parallel) CpuParallel.For(panels, (long)kc * nr, PackB);
                else PackB(0, panels);

                // Tiles: row blocks of at most MC rows (whole MR-row panels, the blocks' heights differing by at
                // most one panel), as many blocks as a multiple of the thread count so that the threads finish
                // together; with fewer blocks than threads, each block is cut into column strips. Tiles follow
                // the MR x NR grid, so the split changes who computes an element, never how.
                int panelsM = (g.M + TK.MR - 1) / TK.MR;
                int rowBlocks = (panelsM * TK.MR + MC - 1) / MC;
                int threads = CpuParallel.Threads;
                if (ws.Parallel) rowBlocks = Math.Min(panelsM, (rowBlocks + threads - 1) / threads * threads);
                int strips = 1;
                if (ws.Parallel && rowBlocks < threads)
                    strips = Math.Clamp((4 * threads + rowBlocks - 1) / rowBlocks, 1, Math.Max(1, panels / 4));
                int panelsPerStrip = (panels + strips - 1) / strips;
                strips = (panels + panelsPerStrip - 1) / panelsPerStrip;
                var args = g;

                [MethodImpl(MethodImplOptions.AggressiveOptimization)]
                void Tiles(long t0, long t1)
                {
                    using var local = ws.Parallel ? new Workspace(parallel: false, 0) : null;
                    T* aPacked = (local ?? ws).A;
                    int lastBlock = -1;
                    for (long tile = t0; tile < t1; tile++)
                    {
                        int blk = (int)(tile / strips), strip = (int)(tile % strips);
                        int ic = (int)((long)blk * panelsM / rowBlocks) * TK.MR;
                        int mc = Math.Min((int)((long)(blk + 1) * panelsM / rowBlocks) * TK.MR, args.M) - ic;
                        if (blk != lastBlock)
                        {
                            PackA(args, a + ic * args.RowStrideA + pc * args.ColStrideA, mc, kc, aPacked);
                            lastBlock = blk;
                        }
                        int j0 = strip * panelsPerStrip * nr;
                        int j1 = Math.Min(nc, j0 + panelsPerStrip * nr);
                        Macro(mc, j0, j1, kc, aPacked, bPacked, c + ic * args.Ldc + jc, args.Ldc, args.Alpha, beta, bias, stream);
                    }
                    if (stream) StoreFence();   // the streamed stores reach memory before the task ends
                }
                long tiles = (long)rowBlocks * strips;
                if (ws.Parallel) CpuParallel.For(tiles, (long)panelsM * TK.MR / rowBlocks * kc * panelsPerStrip * nr, Tiles);
                else Tiles(0, tiles);
            }
        }
    }

    /// <summary>Packs an mc x kc block of A (starting <paramref name="src"/> elements from g.A) into MR-row panels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA(in GemmArgs<T> g, long src, int mc, int kc, T* dst)
    {
        int mr = TK.MR;
        for (int i = 0; i < mc; i += mr)
            GemmPacking.Panel(g.SourceA, g.AAt(src + i * g.RowStrideA), g.RowStrideA, g.ColStrideA, Math.Min(mr, mc - i), mr, kc, dst + (long)i * kc);
    }

    /// <summary>Runs the micro-kernel over rows 0..mc and columns j0..j1 of one packed block. Ragged edge
    /// tiles are computed in full into a scratch tile, and only their valid part is written to C. bias (null: none)
    /// is indexed by the column within the block, like c.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Macro(int mc, int j0, int j1, int kc, T* aPacked, T* bPacked, T* c, long ldc, T alpha, T beta, T* bias, bool stream)
    {
        int mr = TK.MR, nr = TK.NR;
        T* scratch = stackalloc T[mr * nr];
        if ((long)kc * (j1 - j0) * sizeof(T) <= RowOrderBytes)
        {
            // A short k (a LoRA up-projection, k = r, whose C is too large for the outer form, or whose B is
            // 16-bit): the B panels of the whole column range fit in L2, so C is written row panel by row panel,
            // each row of C in one left-to-right sweep, rather than in columns of tiles that touch a line or two of
            // every row (y = h · Bᵀ, 512 x 8 x 4096, 2 threads, measured before the outer form took that shape:
            // 90–109 → 113–126 GFLOP/s streamed; C is far from L1 either way, and the writes dominate).
            for (int i = 0; i < mc; i += mr)
                for (int j = j0; j < j1; j += nr)
                    Tile(i, j);
            return;
        }
        for (int j = j0; j < j1; j += nr)
            for (int i = 0; i < mc; i += mr)
                Tile(i, j);

        void Tile(int i, int j)
        {
            int nEdge = Math.Min(nr, j1 - j), mEdge = Math.Min(mr, mc - i);
            T* bp = bPacked + (long)j * kc;
            T* ap = aPacked + (long)i * kc;
            T* ct = c + i * ldc + j;
            if (mEdge == mr && nEdge == nr)
            {
                TK.Run(kc, ap, bp, ct, ldc, alpha, beta, bias == null ? null : bias + j, stream);
                return;
            }
            TK.Run(kc, ap, bp, scratch, nr, T.One, T.Zero, null, stream: false);
            for (int r = 0; r < mEdge; r++)
                for (int q = 0; q < nEdge; q++)
                {
                    T acc = scratch[r * nr + q];
                    T* d = ct + r * ldc + q;
                    T old = beta == T.Zero ? T.Zero : beta == T.One ? *d : *d * beta;
                    if (bias != null) old += bias[j + q];
                    *d = T.FusedMultiplyAdd(acc, alpha, old);
                }
        }
    }

    /// <summary>The B panels of one tile range up to this size (L2) let <see cref="Macro"/> walk C by rows.</summary>
    private const long RowOrderBytes = 256 * 1024;

    /// <summary>Orders this thread's non-temporal stores before anything it does next.</summary>
    private static void StoreFence()
    {
        if (Sse.IsSupported) Sse.StoreFence();
        else Interlocked.MemoryBarrier();
    }

    /// <summary>Packing buffers from the engine's pooled host allocator: one B block, and one A block
    /// (for a workspace used by one thread; a shared workspace gives each task its own A block).</summary>
    private sealed class Workspace : IDisposable
    {
        private readonly long _aBytes, _bBytes;

        public Workspace(bool parallel, int n)
        {
            Parallel = parallel;
            int nr = TK.NR;
            long nc = Math.Min(NC, (long)(n + nr - 1) / nr * nr);
            _bBytes = (long)KC * nc * sizeof(T);
            _aBytes = parallel ? 0 : (long)MC * KC * sizeof(T);
            if (_bBytes > 0) B = (T*)HostAllocator.Shared.Rent(_bBytes);
            if (_aBytes > 0) A = (T*)HostAllocator.Shared.Rent(_aBytes);
        }

        public bool Parallel { get; }
        public T* A { get; }
        public T* B { get; }

        public void Dispose()
        {
            if (B != null) HostAllocator.Shared.Return(B, _bBytes);
            if (A != null) HostAllocator.Shared.Return(A, _aBytes);
        }
    }
}
