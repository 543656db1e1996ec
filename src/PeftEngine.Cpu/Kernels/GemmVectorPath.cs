using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PeftEngine.Cpu;

/// <summary>
/// Narrow products, where C has one column or row (matrix-vector) or only a few (x · Aᵀ for a LoRA down-projection
/// of rank r: N = r; a few tokens through a Linear layer: small M). Packing for the micro-kernel would copy all of
/// the big operand to fill a few rows or columns, and the product is limited by reading that operand anyway, so
/// these skip packing:
/// <list type="bullet">
/// <item>dot form, <c>C[i, j] = alpha · dot(row i of A, column j of B) + beta · C[i, j]</c>, when the rows of A and
/// the columns of B are contiguous along k (the narrow operand is gathered first when it is not): blocks of dot
/// products (<see cref="GemmDotKernel{TOps, TV, T}"/>; for few columns, k in stretches that keep the narrow
/// operand's slice in L1, <see cref="GemmDotRows{TOps, TV, T}"/>), or single dot products for a matrix-vector
/// product;</item>
/// <item>row form, for a few rows of C over a B stored by rows (dA = dhᵀ · x of a LoRA factor): bands of C take
/// the rows of B in order, four at a time (<see cref="RowForm"/>); and the same for a C with few columns over an A
/// stored by columns (dB = dyᵀ · h of a LoRA factor), as the row form of Cᵀ = Bᵀ · Aᵀ;</item>
/// <item>column form (axpy), <c>y += v[p] · column p of A</c> for p in order, for a matrix-vector product whose
/// matrix is stored by columns;</item>
/// <item>outer form, for a short k over a wide C (h · Bᵀ, the up-projection of a LoRA adapter): k outer products
/// summed in registers, C written once (<see cref="GemmOuterForm{T}"/>, with the AVX-512 kernels only).</item>
/// </list>
/// </summary>
/// <remarks>Each element of C is summed in an order fixed by the shapes (one dot product of length k, or the columns
/// in order over fixed blocks of rows), so results do not depend on the thread count.</remarks>
internal static unsafe class GemmVectorPath<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>C with at most this many columns takes the dot form (when A's rows are contiguous).</summary>
    public const int NarrowN = 32;

    /// <summary>C with at most this many rows takes the dot form (when B's columns are contiguous).</summary>
    public const int NarrowM = 32;

    /// <summary>Shorter dot products than this go to the blocked kernel (unless C is a single row or column).</summary>
    private const int MinK = 32;

    /// <summary>C at least this wide, with few rows and a B stored by rows, takes the row form.</summary>
    private const int RowFormMinN = 128;

    /// <summary>C with at most this many rows (or columns, transposed) and a B stored by rows takes the row form.
    /// Measured on dA = dhᵀ · x at r = 64 (2 threads): 234–247 GFLOP/s in the row form, 104–108 in the blocked
    /// kernel; at 128 rows neither is consistently ahead.</summary>
    private const int RowFormMaxRows = 64;

    /// <summary>Bytes of C one task of the row form keeps in L1 (m rows of a band of columns).</summary>
    private const int RowFormTileBytes = 32 * 1024;

    /// <summary>A B at least this large is taken to come from memory rather than the last-level cache, and the row
    /// form prefetches the next four rows of each band. dA = dhᵀ · x at r = 8 and 16 (width 4096, 2 threads,
    /// interleaved against no prefetch): 2048 tokens (32 MiB) +15–33%; 512 tokens (8 MiB) −19–+16%.</summary>
    private const long RowFormPrefetchBytes = 16L << 20;

    /// <summary>Rows per block of the column form (its accumulators stay in L1).</summary>
    private const int BlockRows = 512;

    /// <summary>Runs the product if its shape and layout suit one of the two forms; returns false otherwise.</summary>
    /// <param name="g">The problem.</param>
    /// <param name="isa">The vector width for the dot-product blocks (not <see cref="GemmIsa.Best"/>).</param>
    public static bool TryRun(GemmArgs<T> g, GemmIsa isa)
    {
        bool vector = g.M == 1 || g.N == 1;
        // A short k over a wide C (a LoRA up-projection): k outer products summed in registers, C written once.
        bool outer = !vector && isa == GemmIsa.V512 && GemmOuterForm<T>.Suits(g);
        if (!vector && !outer && g.K < MinK) return false;
        // Strides along a dimension of size 1 are never used.
        bool rowsOfA = g.ColStrideA == 1 || g.K == 1, colsOfB = g.RowStrideB == 1 || g.K == 1;
        Action<GemmArgs<T>, long, bool> dotForm = isa switch
        {
            GemmIsa.V512 => DotForm<GemmVector512<T>, Vector512<T>>,
            GemmIsa.V256 => DotForm<GemmVector256<T>, Vector256<T>>,
            _ => DotForm<GemmVector128<T>, Vector128<T>>,
        };
        Action<GemmArgs<T>, long, bool> body;
        if (outer) body = GemmOuterForm<T>.Run;
        else if (g.N <= NarrowN && (rowsOfA || g.M == 1)) body = dotForm;
        else if (g.M <= NarrowM && (colsOfB || g.N == 1)) body = dotForm;
        else if (!vector && g.M <= RowFormMaxRows && g.ColStrideB == 1 && g.N >= RowFormMinN) body = RowForm;
        else if (!vector && g.N <= RowFormMaxRows && g.RowStrideA == 1 && g.M >= RowFormMinN)
        {
            // Few columns of C over an A stored by columns (dB = dyᵀ · h of a LoRA factor): the row form of
            // Cᵀ = Bᵀ · Aᵀ, whose rows are the columns of C.
            long ldc = g.Ldc;
            g = g.Transposed();
            body = (args, t, parallel) => RowForm(args, t, parallel, ldc);
        }
        else if (g.N == 1 && (g.RowStrideA == 1 || g.M == 1)) body = ColumnForm;
        else if (g.M == 1 && (g.ColStrideB == 1 || g.N == 1))
        {
            g = g.Transposed(); // C (1 x N) = a · B  <=>  Cᵀ (N x 1) = Bᵀ · aᵀ, a matrix stored by columns
            body = ColumnForm;
        }
        else return false;

        long work = (long)g.M * g.N * g.K;
        var args = g;
        if (g.Batch > 1 && work < (1L << 20))
            CpuParallel.For(g.Batch, work, (t0, t1) =>
            {
                for (long t = t0; t < t1; t++) body(args, t, false);
            });
        else
            for (long t = 0; t < g.Batch; t++) body(args, t, true);
        return true;
    }

    /// <summary>Every C[i, j] as one dot product of contiguous length-k vectors: a single row or column one
    /// product at a time; few columns in blocks of rows (<see cref="GemmDotRows{TOps, TV, T}"/>); few rows in 4 x 4
    /// blocks over ranges of columns (<see cref="GemmDotKernel{TOps, TV, T}"/>).</summary>
    private static void DotForm<TOps, TV>(GemmArgs<T> g, long t, bool parallel)
        where TOps : IGemmVector<TV, T>
        where TV : struct
    {
        T* a = g.A + t * g.BatchStrideA, b = g.B + t * g.BatchStrideB, c = g.C + t * g.BatchStrideC;
        int m = g.M, n = g.N, k = g.K;
        long ldc = g.Ldc;
        T alpha = g.Alpha, beta = g.Beta;
        // Row i of A starts at a + i*ra, column j of B at b + j*cb, each contiguous along k; the narrow
        // operand is copied into that layout when it is not.
        long ra = g.RowStrideA, cb = g.ColStrideB;
        T* aCopy = g.ColStrideA == 1 || k == 1 ? null : Gather(a, m, k, g.RowStrideA, g.ColStrideA);
        T* bCopy = g.RowStrideB == 1 || k == 1 ? null : Gather(b, n, k, g.ColStrideB, g.RowStrideB);
        T* ar = aCopy != null ? aCopy : a, bc = bCopy != null ? bCopy : b;
        if (aCopy != null) ra = k;
        if (bCopy != null) cb = k;
        try
        {
            if (m == 1 || n == 1)
            {
                // A matrix-vector product: one dot product per element, split over the long side.
                long step = m == 1 ? cb : ra, cStep = m == 1 ? 1 : ldc;
                T* vec = m == 1 ? ar : bc, mat = m == 1 ? bc : ar;
                int len = Math.Max(m, n);
                [MethodImpl(MethodImplOptions.AggressiveOptimization)]
                void Dots(long i0, long i1)
                {
                    var v = new ReadOnlySpan<T>(vec, k);
                    for (long i = i0; i < i1; i++)
                        Write(c + i * cStep, TensorPrimitives.Dot(new ReadOnlySpan<T>(mat + i * step, k), v), alpha, beta);
                }
                if (parallel) CpuParallel.For(len, k, Dots);
                else Dots(0, len);
                return;
            }
            if (m >= n)
            {
                // Few columns (x · Aᵀ): blocks of rows, k in stretches that keep the narrow operand's slice in L1.
                GemmDotRows<TOps, TV, T>.Run(ar, ra, bc, cb, m, n, k, c, ldc, alpha, beta, parallel);
                return;
            }
            // Few rows (a few tokens through x · Wᵀ): 4 x 4 blocks, each thread a range of column blocks, the rows of
            // A (the narrow operand) staying in cache.
            int colBlocks = (n + 3) / 4;
            [MethodImpl(MethodImplOptions.AggressiveOptimization)]
            void ColBlocks(long c0, long c1)
            {
                int w = TOps.Count, kv = k - k % w;
                T* acc = stackalloc T[16 * w];
                T** x = stackalloc T*[4];
                T** cols = stackalloc T*[4];
                for (long cbk = c0; cbk < c1; cbk++)
                {
                    int j0 = (int)cbk * 4;
                    for (int q = 0; q < 4; q++) cols[q] = bc + Math.Min(j0 + q, n - 1) * cb;
                    for (int i0 = 0; i0 < m; i0 += 4)
                    {
                        for (int r = 0; r < 4; r++) x[r] = ar + Math.Min(i0 + r, m - 1) * ra;
                        new Span<T>(acc, 16 * w).Clear();
                        GemmDotKernel<TOps, TV, T>.Accumulate4x4(x, cols, 0, kv, acc);
                        GemmDotKernel<TOps, TV, T>.Finish(4, 4, x, cols, kv, k, acc, c + i0 * ldc + j0, ldc, m - i0, n - j0, alpha, beta);
                    }
                }
            }
            if (parallel) CpuParallel.For(colBlocks, 4L * m * k, ColBlocks);
            else ColBlocks(0, colBlocks);
        }
        finally
        {
            if (aCopy != null) HostAllocator.Shared.Return(aCopy, (long)m * k * sizeof(T));
            if (bCopy != null) HostAllocator.Shared.Return(bCopy, (long)n * k * sizeof(T));
        }
    }

    /// <summary>
    /// C = alpha · A · B + beta · C for a C with few rows (m ≤ <see cref="RowFormMaxRows"/>) and a B stored by rows, as
    /// x in the gradient of a LoRA factor, dA = dhᵀ · x: each task takes a band of columns whose m rows of sums fit
    /// in L1 (32 KiB), and adds four rows of B at a time to four rows of it (<see cref="GemmRowUpdate{T}"/>), so B
    /// streams through once in long contiguous runs; columns past the last whole vector take
    /// <see cref="TileProduct{T}.MatMul"/>. B is never packed and A is read in place with any strides. C's columns
    /// are <paramref name="cColStride"/> apart (g.Ldc = 1 with the column stride of the original C writes a
    /// transposed problem's result into place).
    /// </summary>
    private static void RowForm(GemmArgs<T> g, long t, bool parallel) => RowForm(g, t, parallel, 1);

    private static void RowForm(GemmArgs<T> g, long t, bool parallel, long cColStride)
    {
        T* a = g.A + t * g.BatchStrideA, b = g.B + t * g.BatchStrideB, c = g.C + t * g.BatchStrideC;
        int m = g.M, n = g.N, k = g.K;
        long lda = g.RowStrideA, sa = g.ColStrideA, ldb = g.RowStrideB, ldc = g.Ldc;
        T alpha = g.Alpha, beta = g.Beta;
        int w = GemmVector512<T>.Count;
        int band = Math.Max(w, RowFormTileBytes / (m * sizeof(T)) / w * w);
        int bands = (n + band - 1) / band;
        bool prefetch = (long)k * n * sizeof(T) >= RowFormPrefetchBytes;
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void Bands(long b0, long b1)
        {
            using var tile = new PooledBlock<T>((long)m * band);   // (m, band) sums before alpha and beta
            for (long bi = b0; bi < b1; bi++)
            {
                int j0 = (int)bi * band, cols = Math.Min(band, n - j0), vecCols = cols / w * w;
                T* bj = b + j0;
                new Span<T>(tile.Ptr, m * band).Clear();
                int p = 0;
                for (; p + 4 <= k; p += 4)
                {
                    // The first group of rows prefetches the next four rows of B's band when B comes from memory.
                    bool ahead = prefetch && p + 8 <= k;
                    int i = 0;
                    for (; i + 4 <= m; i += 4)
                    {
                        T* ai = a + i * lda + p * sa, bp = bj + p * ldb, ci = tile.Ptr + i * band;
                        if (ahead && i == 0) GemmRowUpdate<T>.Rank4x4<WithPrefetch>(ai, lda, sa, bp, ldb, ci, band, vecCols, bp + 4 * ldb);
                        else GemmRowUpdate<T>.Rank4x4<WithoutPrefetch>(ai, lda, sa, bp, ldb, ci, band, vecCols, bp);
                    }
                    for (; i < m; i++)
                        for (int q = p; q < p + 4; q++) GemmRowUpdate<T>.Rank1(a[i * lda + q * sa], bj + q * ldb, tile.Ptr + i * band, vecCols);
                }
                for (; p < k; p++)
                    for (int i = 0; i < m; i++) GemmRowUpdate<T>.Rank1(a[i * lda + p * sa], bj + p * ldb, tile.Ptr + i * band, vecCols);
                if (vecCols < cols)
                    TileProduct<T>.MatMul(a, lda, sa, m, k, bj + vecCols, ldb, cols - vecCols, tile.Ptr + vecCols, band, accumulate: false);
                WriteTile(tile.Ptr, band, m, cols, c + j0 * cColStride, ldc, cColStride, alpha, beta);
            }
        }
        if (parallel) CpuParallel.For(bands, (long)m * k * band, Bands);
        else Bands(0, bands);
    }

    /// <summary>y = alpha · A · v + beta · y for an A whose columns are contiguous: y accumulates v[p] times
    /// column p, for p in order, one block of rows at a time.</summary>
    private static void ColumnForm(GemmArgs<T> g, long t, bool parallel)
    {
        T* a = g.A + t * g.BatchStrideA, v = g.B + t * g.BatchStrideB, y = g.C + t * g.BatchStrideC;
        int rows = g.M, k = g.K;
        long sCol = g.ColStrideA, sv = g.RowStrideB, ldy = g.Ldc;
        T alpha = g.Alpha, beta = g.Beta;
        int blocks = (rows + BlockRows - 1) / BlockRows;
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void Blocks(long b0, long b1)
        {
            Span<T> acc = stackalloc T[BlockRows];
            for (long blk = b0; blk < b1; blk++)
            {
                int i0 = (int)blk * BlockRows, len = Math.Min(BlockRows, rows - i0);
                var sum = acc[..len];
                sum.Clear();
                for (int p = 0; p < k; p++) // sum += v[p] * A[i0.., p]
                    TensorPrimitives.FusedMultiplyAdd(new ReadOnlySpan<T>(a + i0 + p * sCol, len), v[p * sv], sum, sum);
                for (int i = 0; i < len; i++) Write(y + (i0 + i) * ldy, sum[i], alpha, beta);
            }
        }
        if (parallel) CpuParallel.For(blocks, (long)BlockRows * k, Blocks);
        else Blocks(0, blocks);
    }

    /// <summary>Copies `lines` strided vectors of length k into contiguous rows of a pooled, 64-byte aligned
    /// block (aligned like tensor memory, so the dot products see the same alignment on every run).</summary>
    private static T* Gather(T* src, int lines, int k, long sLine, long sK)
    {
        var dst = (T*)HostAllocator.Shared.Rent((long)lines * k * sizeof(T));
        for (int l = 0; l < lines; l++)
            for (int p = 0; p < k; p++) dst[(long)l * k + p] = src[l * sLine + p * sK];
        return dst;
    }

    /// <summary>C[i, q] = alpha · tile[i, q] + beta · C[i, q] (C not read when beta is 0) for a rows x cols tile whose
    /// rows are ldt apart, C's rows ldc and its columns cColStride apart: row by row with vector operations when C's
    /// rows are contiguous, otherwise column by column (a transposed C's columns are its memory rows), eight rows at
    /// a time through 8 x 8 register transposes for f32 when nothing needs scaling. The same roundings as
    /// <see cref="Write"/>: alpha · acc, or fma(acc, alpha, beta · C).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void WriteTile(T* tile, long ldt, int rows, int cols, T* c, long ldc, long cColStride, T alpha, T beta)
    {
        if (cColStride != 1)
        {
            int i0 = 0;
            if (typeof(T) == typeof(float) && Avx.IsSupported && ldc == 1 && alpha == T.One && beta == T.Zero)
            {
                // Eight rows of the tile at a time become eight-element runs of C (dB at r = 8: one run per row of
                // C), through 8 x 8 register transposes.
                int cols8 = cols / 8 * 8;
                for (; i0 + 8 <= rows; i0 += 8)
                {
                    for (int q = 0; q < cols8; q += 8)
                        GemmPacking.Transpose8x8((float*)(tile + i0 * ldt + q), ldt, (float*)(c + q * cColStride + i0), cColStride);
                    for (int q = cols8; q < cols; q++)
                        for (int i = i0; i < i0 + 8; i++) c[q * cColStride + i] = tile[i * ldt + q];
                }
            }
            for (int q = 0; q < cols && i0 < rows; q++)
            {
                T* y = c + q * cColStride;
                if (beta == T.Zero)
                    for (int i = i0; i < rows; i++) y[i * ldc] = tile[i * ldt + q] * alpha;
                else
                    for (int i = i0; i < rows; i++) Write(y + i * ldc, tile[i * ldt + q], alpha, beta);
            }
            return;
        }
        for (int i = 0; i < rows; i++)
        {
            var acc = new ReadOnlySpan<T>(tile + i * ldt, cols);
            var y = new Span<T>(c + i * ldc, cols);
            if (beta == T.Zero)
            {
                if (alpha == T.One) acc.CopyTo(y);
                else TensorPrimitives.Multiply(acc, alpha, y);
                continue;
            }
            if (beta != T.One) TensorPrimitives.Multiply(y, beta, y);
            TensorPrimitives.FusedMultiplyAdd(acc, alpha, y, y);
        }
    }

    /// <summary>*y = alpha · acc + beta · *y (not read when beta is 0), as fma(acc, alpha, beta · *y).</summary>
    internal static void Write(T* y, T acc, T alpha, T beta) =>
        *y = beta == T.Zero ? acc * alpha : T.FusedMultiplyAdd(acc, alpha, beta == T.One ? *y : *y * beta);
}
