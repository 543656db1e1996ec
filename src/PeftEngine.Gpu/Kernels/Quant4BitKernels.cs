using ILGPU;

namespace PeftEngine.Gpu.Kernels;

/// <summary>
/// A <see cref="PackedWeight4Bit"/> as a kernel argument: views of its device tensors and its sizes. Element e of
/// the (Rows, Cols) matrix, row-major, is <c>Codebook[nibble e] · Scale(e / BlockSize)</c>; nibble e sits in byte
/// e / 2, the even element in the high half.
/// </summary>
internal struct Packed4Bit
{
    public ArrayView<byte> Packed;
    public ArrayView<float> Codebook;
    /// <summary>Plain F32 block scales (when <see cref="DoubleQuant"/> is 0).</summary>
    public ArrayView<float> Absmax;
    /// <summary>Double quantization: 8-bit scale indices, their 256-entry code and one scale per nested block.</summary>
    public ArrayView<byte> QuantizedAbsmax;
    public ArrayView<float> NestedAbsmax, NestedCode;
    public int Rows, Cols, BlockSize, NestedBlockSize, DoubleQuant;
    public float NestedOffset;

    /// <summary>The scale of one block: absmax[b], or nestedCode[q[b]] · nestedAbsmax[b / nested] + offset.</summary>
    public readonly float Scale(long block) => DoubleQuant == 0
        ? Absmax[block]
        : NestedCode[(int)QuantizedAbsmax[block]] * NestedAbsmax[block / NestedBlockSize] + NestedOffset;

    /// <summary>The 4-bit index of element e.</summary>
    public readonly int Index(long e)
    {
        int pair = Packed[e >> 1];
        return (e & 1) == 0 ? pair >> 4 : pair & 0xF;
    }

    /// <summary>Element e (row-major) of the matrix the weight stands for.</summary>
    public readonly float Weight(long e) => Codebook[Index(e)] * Scale(e / BlockSize);
}

/// <summary>
/// The 4-bit (NF4 / FP4) kernels: dequantization, a matrix-vector product for a few rows of x (generation and
/// batch 1), and a tiled GEMM that decodes W while staging its tiles in shared memory, so no F32 copy of W is
/// ever made. Products are y = x · Wᵀ (+ bias) with transW (a Linear forward) or y = x · W (its input gradient),
/// x (m, k) and y (m, n) contiguous F32, in the notation of <see cref="IBackend.MatMul4Bit"/>.
/// </summary>
internal static class Quant4BitKernels
{
    /// <summary>Rows of x that the matrix-vector kernels keep in registers at once.</summary>
    public const int MatVecMaxRows = 8;

    /// <summary>Depth of one k slice of the tiled kernel.</summary>
    public const int TileK = 16;

    /// <summary>Largest tile side of the tiled kernel: 4 · √256.</summary>
    private const int MaxTile = 64;

    /// <summary>Register block per thread of the tiled kernel (rows and columns of y).</summary>
    public const int Block = 4;

    /// <summary>output[e] = W[e] for e &lt; count, one byte (two elements, always in the same block because the
    /// block size is even) per work item.</summary>
    public static void Dequantize(Packed4Bit w, ArrayView<float> output, long count)
    {
        long pairs = (count + 1) / 2;
        for (long p = Grid.GlobalIndex.X; p < pairs; p += Grid.DimX * Group.DimX)
        {
            long e = 2 * p;
            float scale = w.Scale(e / w.BlockSize);
            int pair = w.Packed[p];
            output[e] = w.Codebook[pair >> 4] * scale;
            if (e + 1 < count) output[e + 1] = w.Codebook[pair & 0xF] * scale;
        }
    }

    /// <summary>
    /// y (m, Rows) = x (m, Cols) · Wᵀ + bias for m ≤ <see cref="MatVecMaxRows"/>: one group per row j of W
    /// (grid-stride over rows), its threads walking the row with a stride of the group size, so neighbouring threads
    /// read neighbouring nibbles; each thread keeps one partial sum per row of x, reduced over the group at the end.
    /// </summary>
    public static void MatVecTransposed(Packed4Bit w, ArrayView<float> x, ArrayView<float> y, ArrayView<float> bias, int hasBias, int m)
    {
        var shared = SharedMemory.Allocate<float>(GroupMath.MaxGroupSize);
        var acc = LocalMemory.Allocate<float>(MatVecMaxRows);
        int t = Group.IdxX, k = w.Cols, n = w.Rows;
        for (int j = Grid.IdxX; j < n; j += Grid.DimX)
        {
            for (int r = 0; r < m; r++) acc[r] = 0f;
            long rowStart = (long)j * k;
            for (int p = t; p < k; p += Group.DimX)
            {
                float wv = w.Weight(rowStart + p);
                for (int r = 0; r < m; r++) acc[r] += x[(long)r * k + p] * wv;
            }
            for (int r = 0; r < m; r++)
            {
                float s = GroupMath.Sum(acc[r], shared);
                if (t == 0) y[(long)r * n + j] = hasBias != 0 ? s + bias[j] : s;
            }
        }
    }

    /// <summary>
    /// y (m, Cols) = x (m, Rows) · W for m ≤ <see cref="MatVecMaxRows"/>: one thread per column j of W (grid-stride),
    /// walking down the column in order, so each sum runs over k in increasing order and neighbouring threads read
    /// neighbouring nibbles of each row.
    /// </summary>
    public static void MatVec(Packed4Bit w, ArrayView<float> x, ArrayView<float> y, int m)
    {
        var acc = LocalMemory.Allocate<float>(MatVecMaxRows);
        int k = w.Rows, n = w.Cols;
        for (long j = Grid.GlobalIndex.X; j < n; j += Grid.DimX * Group.DimX)
        {
            for (int r = 0; r < m; r++) acc[r] = 0f;
            for (int p = 0; p < k; p++)
            {
                float wv = w.Weight((long)p * n + j);
                for (int r = 0; r < m; r++) acc[r] += x[(long)r * k + p] * wv;
            }
            for (int r = 0; r < m; r++) y[r * n + j] = acc[r];
        }
    }

    /// <summary>
    /// y (m, n) = x (m, k) · op(W) (+ bias) as a tiled shared-memory GEMM whose W tiles are decoded from the 4-bit
    /// storage as they are staged: a group of tx × tx threads computes a (4·tx) × (4·tx) tile of y, each thread a
    /// 4 × 4 block in registers, walking k in slices of <see cref="TileK"/>. The 16 codebook values sit in shared
    /// memory. Tiles are read along memory (k fastest for x and for W with transW, n fastest for W without), so
    /// neighbouring threads read neighbouring addresses.
    /// </summary>
    /// <remarks>Each element of y sums its k products in increasing k, whatever the group size.</remarks>
    public static void Gemm(Packed4Bit w, ArrayView<float> x, ArrayView<float> y, ArrayView<float> bias, int hasBias, int m, int transW, int tx)
    {
        var xTile = SharedMemory.Allocate<float>(TileK * MaxTile);   // [kk, row of y]
        var wTile = SharedMemory.Allocate<float>(TileK * MaxTile);   // [kk, column of y]
        var code = SharedMemory.Allocate<float>(16);
        var acc = LocalMemory.Allocate<float>(Block * Block);
        int t = Group.IdxX, threads = Group.DimX;
        if (t < 16) code[t] = w.Codebook[t];
        Group.Barrier();
        int k = transW != 0 ? w.Cols : w.Rows, n = transW != 0 ? w.Rows : w.Cols;
        int tileM = threads / tx * Block, tileN = tx * Block;
        int threadRow = t / tx, threadCol = t % tx;
        int tilesM = (m + tileM - 1) / tileM, tilesN = (n + tileN - 1) / tileN;
        for (int tile = Grid.IdxX; tile < tilesM * tilesN; tile += Grid.DimX)
        {
            int row0 = tile / tilesN * tileM, col0 = tile % tilesN * tileN;
            for (int q = 0; q < Block * Block; q++) acc[q] = 0f;
            for (int k0 = 0; k0 < k; k0 += TileK)
            {
                for (int l = t; l < TileK * tileM; l += threads)
                {
                    int r = l / TileK, kk = l % TileK, gr = row0 + r, gk = k0 + kk;
                    xTile[kk * MaxTile + r] = gr < m && gk < k ? x[(long)gr * k + gk] : 0f;
                }
                for (int l = t; l < TileK * tileN; l += threads)
                {
                    // with transW, W[col, k] runs along k; without, W[k, col] runs along the columns
                    int cc = transW != 0 ? l / TileK : l % tileN, kk = transW != 0 ? l % TileK : l / tileN;
                    int gc = col0 + cc, gk = k0 + kk;
                    float v = 0f;
                    if (gc < n && gk < k)
                    {
                        long e = transW != 0 ? (long)gc * w.Cols + gk : (long)gk * w.Cols + gc;
                        v = code[w.Index(e)] * w.Scale(e / w.BlockSize);
                    }
                    wTile[kk * MaxTile + cc] = v;
                }
                Group.Barrier();
                for (int kk = 0; kk < TileK; kk++)
                    for (int i = 0; i < Block; i++)
                    {
                        float xv = xTile[kk * MaxTile + threadRow * Block + i];
                        for (int jj = 0; jj < Block; jj++)
                            acc[i * Block + jj] += xv * wTile[kk * MaxTile + threadCol * Block + jj];
                    }
                Group.Barrier();
            }
            for (int i = 0; i < Block; i++)
            {
                int gr = row0 + threadRow * Block + i;
                if (gr >= m) continue;
                for (int jj = 0; jj < Block; jj++)
                {
                    int gc = col0 + threadCol * Block + jj;
                    if (gc < n) y[(long)gr * n + gc] = hasBias != 0 ? acc[i * Block + jj] + bias[gc] : acc[i * Block + jj];
                }
            }
        }
    }
}
