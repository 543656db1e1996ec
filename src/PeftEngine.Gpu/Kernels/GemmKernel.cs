using System.Numerics;
using ILGPU;

namespace PeftEngine.Gpu.Kernels;

/// <summary>Where one operand of a batched GEMM lives: op(X)[t, r, c] = X[Offset + t·Batch + r·Row + c·Col].
/// A transposed operand is the same memory with Row and Col swapped; a broadcast batch has Batch = 0.</summary>
internal struct MatrixLayout
{
    public long Offset, Batch, Row, Col;

    /// <summary>The operand's element type, a <see cref="PeftEngine.DType"/> as int (the GEMM's own type, or F16/BF16).</summary>
    public int DType;
}

/// <summary>
/// Batched GEMM c[t] = alpha · op(a[t]) · op(b[t]) + beta · c[t] + bias, as a tiled shared-memory kernel with
/// register blocking. A group of TX × TY threads (TX = TY = √groupSize) computes a tile of
/// (4·TY) × (4·TX) elements of c, each thread a 4 × 4 block held in registers; the k dimension is walked in
/// slices of <see cref="TileK"/>, each slice of a and b staged once in shared memory and reused by every thread.
/// A BF16 or F16 operand (a frozen 16-bit weight) is read as its bit pattern and widened exactly while it is
/// staged, so the products and their order are those of the same GEMM on the widened F32 operand.
/// </summary>
/// <remarks>Each element of c sums its k products in increasing k, whatever the group size, so results depend only
/// on the shapes. Groups walk the (batch, tile row, tile column) list with a grid-stride loop.</remarks>
internal static class GemmKernel
{
    /// <summary>Rows and columns of c per thread (register block).</summary>
    public const int Block = 4;

    /// <summary>Depth of one k slice.</summary>
    public const int TileK = 8;

    /// <summary>Largest tile side: 4 · √256.</summary>
    private const int MaxTile = 64;

    /// <summary>Element i of an operand stored as <paramref name="dtype"/> (a <see cref="DType"/> as int): T itself,
    /// or an F16/BF16 bit pattern widened exactly to T.</summary>
    private static T Operand<T, TR>(ArrayView<T> same, ArrayView<ushort> bits, int dtype, long i)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        TR r = default;
        if (dtype == (int)PeftEngine.DType.BF16) return r.From(ElementBits.BFloat16ToSingle(bits[i]));
        if (dtype == (int)PeftEngine.DType.F16) return r.From(ElementBits.HalfToSingle(bits[i]));
        return same[i];
    }

    /// <summary>The GEMM; a and b are the operands' whole buffers as bytes, of the dtype their layout names: T, or
    /// (for an F32 T) F16 or BF16, converted as they are staged into shared memory.</summary>
    public static void Gemm<T, TR>(ArrayView<byte> a, MatrixLayout al, ArrayView<byte> b, MatrixLayout bl, ArrayView<T> c,
        ArrayView<T> bias, int hasBias, int batch, int m, int n, int k, T alpha, T beta, int tx)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        ArrayView<T> aSame = a.Cast<T>(), bSame = b.Cast<T>();
        ArrayView<ushort> aBits = a.Cast<ushort>(), bBits = b.Cast<ushort>();
        var aTile = SharedMemory.Allocate<T>(TileK * MaxTile); // [kk, row]
        var bTile = SharedMemory.Allocate<T>(TileK * MaxTile); // [kk, col]
        var acc = LocalMemory.Allocate<T>(Block * Block);
        int t = Group.IdxX, threads = Group.DimX;
        int ty = threads / tx;
        int tileM = ty * Block, tileN = tx * Block;
        int threadRow = t / tx, threadCol = t % tx;
        int tilesM = (m + tileM - 1) / tileM, tilesN = (n + tileN - 1) / tileN;
        long tiles = (long)batch * tilesM * tilesN;

        for (long tile = Grid.IdxX; tile < tiles; tile += Grid.DimX)
        {
            int bt = (int)(tile / ((long)tilesM * tilesN));
            int rest = (int)(tile % ((long)tilesM * tilesN));
            int row0 = rest / tilesN * tileM, col0 = rest % tilesN * tileN;
            long aBase = al.Offset + bt * al.Batch, bBase = bl.Offset + bt * bl.Batch;
            for (int q = 0; q < Block * Block; q++) acc[q] = T.Zero;

            for (int k0 = 0; k0 < k; k0 += TileK)
            {
                // Stage a[row0.., k0..] and b[k0.., col0..] (zeros past the edges).
                for (int l = t; l < TileK * tileM; l += threads)
                {
                    int kk = l / tileM, r = l % tileM;
                    int gr = row0 + r, gk = k0 + kk;
                    aTile[kk * MaxTile + r] = gr < m && gk < k ? Operand<T, TR>(aSame, aBits, al.DType, aBase + gr * al.Row + gk * al.Col) : T.Zero;
                }
                for (int l = t; l < TileK * tileN; l += threads)
                {
                    int kk = l / tileN, cc = l % tileN;
                    int gc = col0 + cc, gk = k0 + kk;
                    bTile[kk * MaxTile + cc] = gc < n && gk < k ? Operand<T, TR>(bSame, bBits, bl.DType, bBase + gk * bl.Row + gc * bl.Col) : T.Zero;
                }
                Group.Barrier();
                for (int kk = 0; kk < TileK; kk++)
                {
                    for (int i = 0; i < Block; i++)
                    {
                        T av = aTile[kk * MaxTile + threadRow * Block + i];
                        for (int j = 0; j < Block; j++)
                            acc[i * Block + j] += av * bTile[kk * MaxTile + threadCol * Block + j];
                    }
                }
                Group.Barrier();
            }

            for (int i = 0; i < Block; i++)
            {
                int gr = row0 + threadRow * Block + i;
                if (gr >= m) continue;
                for (int j = 0; j < Block; j++)
                {
                    int gc = col0 + threadCol * Block + j;
                    if (gc >= n) continue;
                    long ci = ((long)bt * m + gr) * n + gc;
                    T v = alpha * acc[i * Block + j];
                    if (beta != T.Zero) v += beta * c[ci];
                    if (hasBias != 0) v += bias[gc];
                    c[ci] = v;
                }
            }
        }
    }

    /// <summary>c[row, col] = beta · c[row, col] + bias[col] (c not read when beta = 0) over rows × n elements: the
    /// part of a GEMM with bias that a library GEMM (which adds only beta · c) does not do, run before it with beta 1.</summary>
    public static void BiasPrologue<T>(ArrayView<T> c, ArrayView<T> bias, long count, int n, T beta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long step = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < count; i += step)
            c[i] = (beta == T.Zero ? T.Zero : beta * c[i]) + bias[i % n];
    }
}
