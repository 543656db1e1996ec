using System.Numerics;
using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

/// <summary>
/// Matrix-vector products (a GEMM whose C has one column, or one row seen transposed):
/// <c>y = alpha · M · v + beta · y</c>. Packing would waste most of the micro-kernel on a single column, and
/// the product is limited by reading M from memory anyway, so it gets two plain SIMD loops instead:
/// dot products when the rows of M are contiguous, column updates (axpy) when its columns are.
/// </summary>
/// <remarks>Each y[i] is summed in an order fixed by the shapes (a row's dot product, or columns in order over
/// fixed blocks of rows), so results do not depend on the thread count.</remarks>
internal static unsafe class GemmVectorPath<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Rows per block of the column-update form (its accumulators stay in L1).</summary>
    private const int BlockRows = 512;

    /// <summary>Runs the product when C is a single column (after transposing a single row) and M has a
    /// unit stride along one of its dimensions; returns false otherwise, for the blocked GEMM to take it.</summary>
    public static bool TryRun(GemmArgs<T> g)
    {
        if (g.N != 1)
        {
            if (g.M != 1) return false;
            g = g.TransposedVector(); // C (1 x N) = a · B  <=>  Cᵀ (N x 1) = Bᵀ · aᵀ
        }
        // Strides along a dimension of size 1 are never used: treat them as unit strides.
        long sRow = g.M == 1 ? 1 : g.RowStrideA, sCol = g.K == 1 ? 1 : g.ColStrideA;
        if (sCol != 1 && sRow != 1) return false;
        bool dotForm = sCol == 1;
        long work = (long)g.M * g.K;
        var args = g;
        if (g.Batch > 1 && work < (1L << 20))
        {
            CpuParallel.For(g.Batch, work, (t0, t1) =>
            {
                for (long t = t0; t < t1; t++) One(args, t, dotForm, parallel: false);
            });
        }
        else
            for (long t = 0; t < g.Batch; t++) One(args, t, dotForm, parallel: true);
        return true;
    }

    private static void One(GemmArgs<T> g, long t, bool dotForm, bool parallel)
    {
        T* m = g.A + t * g.BatchStrideA, v = g.B + t * g.BatchStrideB, y = g.C + t * g.BatchStrideC;
        int rows = g.M, k = g.K;
        long sv = g.RowStrideB, ldy = g.Ldc;
        T alpha = g.Alpha, beta = g.Beta;

        // The vector, contiguous (gathered when it is strided).
        T[]? gathered = null;
        if (sv != 1 && k > 1)
        {
            gathered = new T[k];
            for (int p = 0; p < k; p++) gathered[p] = v[p * sv];
        }
        fixed (T* vg = gathered)
        {
            T* vc = gathered is null ? v : vg;
            if (dotForm)
            {
                long sRow = g.RowStrideA;
                void Rows(long i0, long i1)
                {
                    var vs = new ReadOnlySpan<T>(vc, k);
                    for (long i = i0; i < i1; i++)
                        Write(y + i * ldy, TensorPrimitives.Dot(new ReadOnlySpan<T>(m + i * sRow, k), vs), alpha, beta);
                }
                if (parallel) CpuParallel.For(rows, k, Rows);
                else Rows(0, rows);
            }
            else
            {
                long sCol = g.ColStrideA;
                int blocks = (rows + BlockRows - 1) / BlockRows;
                void Blocks(long b0, long b1)
                {
                    Span<T> acc = stackalloc T[BlockRows];
                    for (long b = b0; b < b1; b++)
                    {
                        int i0 = (int)b * BlockRows, len = Math.Min(BlockRows, rows - i0);
                        var sum = acc[..len];
                        sum.Clear();
                        for (int p = 0; p < k; p++) // sum += v[p] * M[i0.., p], column after column
                            TensorPrimitives.FusedMultiplyAdd(new ReadOnlySpan<T>(m + i0 + p * sCol, len), vc[p], sum, sum);
                        for (int i = 0; i < len; i++) Write(y + (i0 + i) * ldy, sum[i], alpha, beta);
                    }
                }
                if (parallel) CpuParallel.For(blocks, (long)BlockRows * k, Blocks);
                else Blocks(0, blocks);
            }
        }
    }

    private static void Write(T* y, T acc, T alpha, T beta) =>
        *y = beta == T.Zero ? acc * alpha : T.FusedMultiplyAdd(acc, alpha, beta == T.One ? *y : *y * beta);
}
