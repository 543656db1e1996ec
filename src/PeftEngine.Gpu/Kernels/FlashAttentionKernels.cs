using System.Numerics;
using ILGPU;

namespace PeftEngine.Gpu.Kernels;

/// <summary>
/// Tiled ("flash") scaled dot-product attention: key/value (or query/dOut) rows stream through shared memory one
/// tile at a time, and nothing of size T·S is ever stored. Formulas and layouts are those of
/// <see cref="IBackend.AttentionForward"/> and <see cref="IBackend.AttentionBackward"/>.
/// </summary>
/// <remarks>
/// <para>A group of R threads owns R rows: R query rows of one (batch, head) in <see cref="Forward{T}"/> and
/// <see cref="QueryGrad{T}"/>, R key rows of one (batch, key/value head) in <see cref="KeyValueGrad{T}"/>. Each
/// thread keeps its own row and its accumulators in registers (local memory); the rows it meets are loaded into
/// shared memory <see cref="AttentionShape.Tile"/> at a time by the whole group (contiguous, coalesced reads), and
/// every thread of the group then reads the same shared element at the same moment (a broadcast).</para>
/// <para>Forward, per query row: for each key tile the scores s = q·kᵀ·scale + mask are formed into a small local
/// array, the tile's maximum updates the running maximum m, the running sum l = Σ exp(s - m) and the unnormalised
/// output o = Σ exp(s - m)·v are rescaled by exp(m_old - m) once per tile, then the tile's exp(s - m) are added.
/// At the end out = o / l and lse = m + log l. Key tiles past the causal limit of the group's last query are
/// skipped.</para>
/// <para>Backward (FlashAttention-2 order): the probabilities P = exp(s - lse) are recomputed tile by tile.
/// <see cref="QueryGrad{T}"/> walks key tiles for a group of query rows (dq_i = scale Σ_j dS_ij k_j);
/// <see cref="KeyValueGrad{T}"/> walks the query tiles of every query head of the group for a group of key rows
/// (dk_j = scale Σ dS_ij q_i, dv_j = Σ P_ij dOut_i). Each output row is written by one thread only: no atomics,
/// and every sum runs in increasing key (or head, then query) order, so results depend only on the shapes and
/// the tile size.</para>
/// <para>Heads wider than <see cref="MaxHead"/> use the untiled <see cref="AttentionKernels"/>.</para>
/// </remarks>
internal static class FlashAttentionKernels
{
    /// <summary>Largest head size (D and Dv) a thread holds in registers.</summary>
    public const int MaxHead = 128;

    /// <summary>Elements of one shared tile buffer: Tile · head size must fit.</summary>
    public const int TileCapacity = 2048;

    /// <summary>Most rows in one streamed tile.</summary>
    public const int MaxTileRows = 64;

    /// <summary>The end of the keys query row <paramref name="i"/> may see (S without causal masking).</summary>
    internal static int KeyEnd(AttentionShape s, int i) => s.Causal != 0 ? Math.Min(s.S, i + s.S - s.T + 1) : s.S;

    /// <summary>The whole group copies n contiguous elements from src[start..] into the shared tile.</summary>
    private static void LoadTile<T>(ArrayView<T> src, long start, int n, ArrayView<T> tile) where T : unmanaged
    {
        for (int e = Group.IdxX; e < n; e += Group.DimX) tile[e] = src[start + e];
    }

    /// <summary>One thread copies n elements from src[start..] into its own local row.</summary>
    private static void ReadRow<T>(ArrayView<T> src, long start, int n, ArrayView<T> row) where T : unmanaged
    {
        for (int c = 0; c < n; c++) row[c] = src[start + c];
    }

    /// <summary>Zeros the first n elements of a local accumulator.</summary>
    private static void Clear<T>(ArrayView<T> row, int n) where T : unmanaged, INumberBase<T>
    {
        for (int c = 0; c < n; c++) row[c] = T.Zero;
    }

    /// <summary>The key/value tile starting at key j0 of the query tile's key/value head into the shared tiles,
    /// between two barriers (the previous tiles are no longer read; the new ones are complete). Returns how many
    /// of its keys this thread's query row may see (0 or less when none).</summary>
    private static int LoadKeyValueTiles<T>(ArrayView<T> k, ArrayView<T> v, AttentionShape s, QueryTile qt, int j0, ArrayView<T> kTile, ArrayView<T> vTile)
        where T : unmanaged
    {
        int cols = Math.Min(s.Tile, qt.KeyEnd - j0);
        Group.Barrier();
        LoadTile(k, s.KOff + (qt.KeyRow0 + j0) * s.D, cols * s.D, kTile);
        LoadTile(v, s.VOff + (qt.KeyRow0 + j0) * s.Dv, cols * s.Dv, vTile);
        Group.Barrier();
        return Math.Min(cols, qt.VisibleEnd - j0);
    }

    /// <summary>scale · (row · tile[jj]) + mask[b, h, i, j]: one score, the key (or query) row read from shared memory.</summary>
    private static T Score<T>(ArrayView<T> row, ArrayView<T> tile, int jj, int d, ArrayView<T> mask, AttentionShape s, int b, int h, int i, int j, T scale)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T dot = T.Zero;
        int tb = jj * d;
        for (int c = 0; c < d; c++) dot += row[c] * tile[tb + c];
        T x = dot * scale;
        if (s.HasMask != 0) x += mask[s.MaskOff + b * s.MaskB + h * s.MaskH + i * s.MaskT + j];
        return x;
    }

    /// <summary>out and lse, one thread per query row, key/value tiles through shared memory.</summary>
    public static void Forward<T>(ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> mask, ArrayView<T> o, ArrayView<T> lse, AttentionShape s, T scale)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var kTile = SharedMemory.Allocate<T>(TileCapacity);   // (Tile, D)
        var vTile = SharedMemory.Allocate<T>(TileCapacity);   // (Tile, Dv)
        var qRow = LocalMemory.Allocate<T>(MaxHead);
        var acc = LocalMemory.Allocate<T>(MaxHead);
        var scores = LocalMemory.Allocate<T>(MaxTileRows);
        long work = QueryTile.Count(s);
        for (long w = Grid.IdxX; w < work; w += Grid.DimX)
        {
            var qt = new QueryTile(s, w);
            long r = qt.Row;
            if (qt.Active)
            {
                ReadRow(q, s.QOff + r * s.D, s.D, qRow);
                Clear(acc, s.Dv);
            }
            T m = T.NegativeInfinity, l = T.Zero;
            for (int j0 = 0; j0 < qt.KeyEnd; j0 += s.Tile)
            {
                int visible = LoadKeyValueTiles(k, v, s, qt, j0, kTile, vTile);
                if (visible <= 0) continue;
                T tileMax = T.NegativeInfinity;
                for (int jj = 0; jj < visible; jj++)
                {
                    T x = Score(qRow, kTile, jj, s.D, mask, s, qt.B, qt.H, qt.I, j0 + jj, scale);
                    scores[jj] = x;
                    if (x > tileMax) tileMax = x;
                }
                T mNew = tileMax > m ? tileMax : m;
                if (mNew == T.NegativeInfinity) continue;   // every key so far is masked out
                // rescale what was summed under the old maximum: l, o *= exp(m - m')
                T corr = T.Exp(m - mNew);
                l *= corr;
                for (int c = 0; c < s.Dv; c++) acc[c] *= corr;
                for (int jj = 0; jj < visible; jj++)
                {
                    T p = T.Exp(scores[jj] - mNew);
                    if (p == T.Zero) continue;
                    l += p;
                    int vb = jj * s.Dv;
                    for (int c = 0; c < s.Dv; c++) acc[c] += p * vTile[vb + c];
                }
                m = mNew;
            }
            if (qt.Active)
            {
                for (int c = 0; c < s.Dv; c++) o[s.OOff + r * s.Dv + c] = acc[c] / l;
                lse[s.LseOff + r] = m + T.Log(l);
            }
        }
    }

    /// <summary>dq_i = scale Σ_j dS_ij k_j with dS_ij = P_ij (dOut_i · v_j - Δ_i), one thread per query row.</summary>
    public static void QueryGrad<T>(ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> mask, ArrayView<T> g, ArrayView<T> lse, ArrayView<T> delta,
        ArrayView<T> dq, AttentionShape s, T scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var kTile = SharedMemory.Allocate<T>(TileCapacity);   // (Tile, D)
        var vTile = SharedMemory.Allocate<T>(TileCapacity);   // (Tile, Dv)
        var qRow = LocalMemory.Allocate<T>(MaxHead);
        var gRow = LocalMemory.Allocate<T>(MaxHead);
        var acc = LocalMemory.Allocate<T>(MaxHead);
        long work = QueryTile.Count(s);
        for (long w = Grid.IdxX; w < work; w += Grid.DimX)
        {
            var qt = new QueryTile(s, w);
            long r = qt.Row;
            T rowLse = T.Zero, rowDelta = T.Zero;
            if (qt.Active)
            {
                ReadRow(q, s.QOff + r * s.D, s.D, qRow);
                ReadRow(g, s.GOff + r * s.Dv, s.Dv, gRow);
                Clear(acc, s.D);
                rowLse = lse[s.LseOff + r];
                rowDelta = delta[r];
            }
            for (int j0 = 0; j0 < qt.KeyEnd; j0 += s.Tile)
            {
                int visible = LoadKeyValueTiles(k, v, s, qt, j0, kTile, vTile);
                for (int jj = 0; jj < visible; jj++)
                {
                    T p = T.Exp(Score(qRow, kTile, jj, s.D, mask, s, qt.B, qt.H, qt.I, j0 + jj, scale) - rowLse);
                    if (p == T.Zero) continue;
                    T dp = T.Zero;
                    int vb = jj * s.Dv, kb = jj * s.D;
                    for (int c = 0; c < s.Dv; c++) dp += gRow[c] * vTile[vb + c];
                    T ds = p * (dp - rowDelta) * scale;
                    for (int c = 0; c < s.D; c++) acc[c] += ds * kTile[kb + c];
                }
            }
            if (qt.Active)
                for (int c = 0; c < s.D; c++) dq[r * s.D + c] = acc[c];
        }
    }

    /// <summary>dk_j = scale Σ dS_ij q_i and dv_j = Σ P_ij dOut_i over the query heads of the group and every
    /// query i, one thread per key row; q, dOut, lse and Δ rows stream through shared memory.</summary>
    public static void KeyValueGrad<T>(ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> mask, ArrayView<T> g, ArrayView<T> lse, ArrayView<T> delta,
        ArrayView<T> dk, int wantK, ArrayView<T> dv, int wantV, AttentionShape s, T scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var qTile = SharedMemory.Allocate<T>(TileCapacity);   // (Tile, D)
        var gTile = SharedMemory.Allocate<T>(TileCapacity);   // (Tile, Dv)
        var lseTile = SharedMemory.Allocate<T>(MaxTileRows);
        var deltaTile = SharedMemory.Allocate<T>(MaxTileRows);
        var kRow = LocalMemory.Allocate<T>(MaxHead);
        var vRow = LocalMemory.Allocate<T>(MaxHead);
        var dkAcc = LocalMemory.Allocate<T>(MaxHead);
        var dvAcc = LocalMemory.Allocate<T>(MaxHead);
        int rows = Group.DimX, keyTiles = (s.S + rows - 1) / rows, groupSize = s.H / s.Hkv;
        long work = (long)s.B * s.Hkv * keyTiles;
        for (long w = Grid.IdxX; w < work; w += Grid.DimX)
        {
            int tile = (int)(w % keyTiles), hk = (int)(w / keyTiles % s.Hkv), b = (int)(w / ((long)keyTiles * s.Hkv));
            int j0 = tile * rows, j = j0 + Group.IdxX;
            bool active = j < s.S;
            long r = ((long)b * s.Hkv + hk) * s.S + j;
            if (active)
            {
                ReadRow(k, s.KOff + r * s.D, s.D, kRow);
                ReadRow(v, s.VOff + r * s.Dv, s.Dv, vRow);
                Clear(dkAcc, s.D);
                Clear(dvAcc, s.Dv);
            }
            // Under causal masking query i sees key j when i >= j - (S - T): earlier queries see none of this tile.
            int iStart = s.Causal != 0 ? Math.Max(0, j0 - (s.S - s.T)) : 0;
            int firstVisible = s.Causal != 0 ? j - (s.S - s.T) : 0;
            for (int h = hk * groupSize; h < (hk + 1) * groupSize; h++)
            {
                long qr0 = ((long)b * s.H + h) * s.T;   // first query row of head h
                for (int i0 = iStart; i0 < s.T; i0 += s.Tile)
                {
                    int cols = Math.Min(s.Tile, s.T - i0);
                    Group.Barrier();
                    LoadTile(q, s.QOff + (qr0 + i0) * s.D, cols * s.D, qTile);
                    LoadTile(g, s.GOff + (qr0 + i0) * s.Dv, cols * s.Dv, gTile);
                    LoadTile(lse, s.LseOff + qr0 + i0, cols, lseTile);
                    LoadTile(delta, qr0 + i0, cols, deltaTile);
                    Group.Barrier();
                    if (!active) continue;
                    for (int ii = Math.Max(0, firstVisible - i0); ii < cols; ii++)
                    {
                        int i = i0 + ii;
                        T p = T.Exp(Score(kRow, qTile, ii, s.D, mask, s, b, h, i, j, scale) - lseTile[ii]);
                        if (p == T.Zero) continue;
                        int gb = ii * s.Dv, qb = ii * s.D;
                        T dp = T.Zero;
                        for (int c = 0; c < s.Dv; c++)
                        {
                            T gv = gTile[gb + c];
                            dp += gv * vRow[c];
                            dvAcc[c] += p * gv;
                        }
                        T ds = p * (dp - deltaTile[ii]) * scale;
                        for (int c = 0; c < s.D; c++) dkAcc[c] += ds * qTile[qb + c];
                    }
                }
            }
            if (active)
            {
                if (wantK != 0) for (int c = 0; c < s.D; c++) dk[r * s.D + c] = dkAcc[c];
                if (wantV != 0) for (int c = 0; c < s.Dv; c++) dv[r * s.Dv + c] = dvAcc[c];
            }
        }
    }
}

/// <summary>Work item w of the query-tiled kernels: a group's R = Group.DimX query rows of one (batch, head), and
/// the calling thread's row among them.</summary>
internal readonly struct QueryTile
{
    /// <summary>Batch, query head and this thread's query row.</summary>
    public readonly int B, H, I;

    /// <summary>Whether this thread's row exists (the last tile may be partial).</summary>
    public readonly bool Active;

    /// <summary>This thread's row in the (B·H·T) list of query rows.</summary>
    public readonly long Row;

    /// <summary>The first row of the key/value head in the (B·Hkv·S) list of key rows.</summary>
    public readonly long KeyRow0;

    /// <summary>The end of the keys any row of the tile may see, and that this thread's row may see (0 if inactive).</summary>
    public readonly int KeyEnd, VisibleEnd;

    public QueryTile(AttentionShape s, long w)
    {
        int rows = Group.DimX, queryTiles = (s.T + rows - 1) / rows;
        int tile = (int)(w % queryTiles), i0 = tile * rows;
        H = (int)(w / queryTiles % s.H);
        B = (int)(w / ((long)queryTiles * s.H));
        I = i0 + Group.IdxX;
        Active = I < s.T;
        Row = ((long)B * s.H + H) * s.T + I;
        KeyRow0 = ((long)B * s.Hkv + H / (s.H / s.Hkv)) * s.S;
        KeyEnd = FlashAttentionKernels.KeyEnd(s, Math.Min(s.T, i0 + rows) - 1);
        VisibleEnd = Active ? FlashAttentionKernels.KeyEnd(s, I) : 0;
    }

    /// <summary>Query tiles in all: B · H · ⌈T / R⌉.</summary>
    public static long Count(AttentionShape s) => (long)s.B * s.H * ((s.T + Group.DimX - 1) / Group.DimX);
}
