using System.Numerics;
using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

/// <summary>
/// Backward of fused attention (FlashAttention-2 style). The probabilities are recomputed tile by tile from the
/// saved logsumexp, P = exp(s - lse), never stored for the whole sequence. With Δ_i = Σ_c dO_ic·O_ic:
/// dP = dO·Vᵀ, dS = P ∘ (dP - Δ) · scale, dQ = dS·K, dK = dSᵀ·Q, dV = Pᵀ·dO.
/// </summary>
/// <remarks>
/// Every write stays private to one work item, so no two threads touch the same output and every sum runs in a
/// fixed order. When there are enough (batch, key/value head) pairs to keep the threads busy, one pass per pair
/// (<see cref="HeadPass"/>) walks its key tiles in order and forms S, P, dP and dS once per (query tile, key tile)
/// for all three gradients: 5 tile products. Otherwise two finer passes split the work: dK and dV over
/// (batch, key/value head, key tile), each item looping over the query heads of its group and all query tiles in
/// order; dQ over (batch, head, query tile), looping over the key tiles in order; S and dP are formed in both,
/// 7 tile products. The two schemes run the same operations on the same operands in the same order for every
/// element, so the choice (which depends on the thread count) never changes a bit of the result. Under causal
/// masking every pass skips the tiles no query can see.
/// </remarks>
internal readonly unsafe partial struct AttentionProblem<T>
{
    public void Backward(T* output, T* dOut, T* lse, T* dq, T* dk, T* dv)
    {
        long rowsTotal = (long)_b * _h * _t;
        using var delta = new PooledBlock<T>(rowsTotal);
        T* dl = delta.Ptr;
        int dvSize = _dv;
        // Δ_i = Σ_c dO_ic · O_ic
        CpuParallel.For(rowsTotal, 2L * dvSize, (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
                dl[r] = AttentionTiles<T>.Dot(dOut + r * dvSize, output + r * dvSize, dvSize);
        });
        using var keysT = TransposeHeads(_k, _d);
        using var valuesT = TransposeHeads(_v, _dv);
        if (dq != null && (dk != null || dv != null) && HeadPassPays())
        {
            HeadPass(dOut, lse, dl, keysT.Ptr, valuesT.Ptr, dq, dk, dv);
            return;
        }
        if (dk != null || dv != null) KeyPass(dOut, lse, dl, keysT.Ptr, valuesT.Ptr, dk, dv);
        if (dq != null) QueryPass(dOut, lse, dl, keysT.Ptr, valuesT.Ptr, dq);
    }

    /// <summary>
    /// For the query rows [i0, i0 + rows) against keys j0 .. j0 + cols, tile-wise: P = exp(S - lse) and
    /// dS = P ∘ (dO·Vᵀ - Δ) · scale, written to p and ds as (rows, Bk) with zeros past the keys each row may see.
    /// q is the query tile times the scale; kt and vt are the transposed key and value tiles (D, Bk) and (Dv, Bk),
    /// zero-padded, so both products run over whole vectors of keys and give the same values in both passes.
    /// </summary>
    private void TileGradients(int b, int h, int i0, int rows, T* q, int j0, int cols, T* kt, T* vt, T* dOut, T* lse, T* delta, T* p, T* ds)
    {
        int padded = AttentionTiles<T>.PaddedColumns(cols);
        TileProduct<T>.MatMul(q, _d, 1, rows, _d, kt, Bk, padded, p, Bk, accumulate: false);                          // S = q·Kᵀ
        TileProduct<T>.MatMul(dOut + OutRow(b, h, i0), _dv, 1, rows, _dv, vt, Bk, padded, ds, Bk, accumulate: false);   // dP = dO·Vᵀ
        for (int r = 0; r < rows; r++)
        {
            int i = i0 + r;
            T* pr = p + r * Bk, dr = ds + r * Bk;
            int n = (int)Math.Max(0, Math.Min(cols, CausalLimit(i) - j0 + 1));   // keys of this tile row i may see
            T* maskRow = MaskRow(b, h, i);
            if (maskRow != null && n > 0) TensorPrimitives.Add(new ReadOnlySpan<T>(pr, n), new ReadOnlySpan<T>(maskRow + j0, n), new Span<T>(pr, n));
            long at = LseAt(b, h, i);
            AttentionTiles<T>.ProbabilityGradients(pr, dr, n, lse[at], delta[at], _scale);
            new Span<T>(pr + n, cols - n).Clear();
            new Span<T>(dr + n, cols - n).Clear();
        }
    }

    /// <summary>
    /// The single pass pays when whole (batch, key/value head) work items keep the threads about as busy as the
    /// finer split of the two passes: it does 5 tile products per (query tile, key tile) against their 7, so up to
    /// 2/7 of the thread time may idle in the last round of items before it loses.
    /// </summary>
    internal static bool HeadPassPays(long items, int threads)
    {
        long rounds = (items + threads - 1) / threads;
        return 5 * rounds * threads <= 7 * items;
    }

    private bool HeadPassPays() => HeadPassPays((long)_b * _hkv, CpuParallel.Threads);

    /// <summary>
    /// All three gradients, one (batch, key/value head) per work item: for each key tile in order, every query
    /// tile of the group's heads gives S, P, dP and dS once, which feed dV and dK of the key tile and add dS·K to
    /// the query tile's rows of dq (the work item owns those rows, and dq itself is the accumulator). Each dq row
    /// receives its key tiles' terms in increasing order, like <see cref="QueryPass"/>, with the same products on
    /// the same operands, so both schemes give the same bits.
    /// </summary>
    private void HeadPass(T* dOut, T* lse, T* delta, T* keysT, T* valuesT, T* dq, T* dk, T* dv)
    {
        var self = this;
        int keyTiles = KeyTiles, group = _h / _hkv;
        long work = (long)group * _t * _s * 5 * (_d + _dv) / 2;
        CpuParallel.For((long)_b * _hkv, work, (w0, w1) =>
        {
            int d = self._d, dvSize = self._dv;
            using var scratch = new KeyTileScratch(d, dvSize);
            for (long w = w0; w < w1; w++)
            {
                int b = (int)(w / self._hkv), kh = (int)(w % self._hkv);
                for (int hh = 0; hh < group; hh++)
                    new Span<T>(dq + ((long)b * self._h + kh * group + hh) * self._t * d, self._t * d).Clear();
                for (int tile = 0; tile < keyTiles; tile++)
                    self.KeyTile(b, kh, tile * Bk, keysT, valuesT, dOut, lse, delta, scratch, dq, dk, dv);
            }
        });
    }

    /// <summary>dK and dV, one key tile of one key/value head per work item.</summary>
    private void KeyPass(T* dOut, T* lse, T* delta, T* keysT, T* valuesT, T* dk, T* dv)
    {
        var self = this;
        int keyTiles = KeyTiles;
        long work = (long)(_h / _hkv) * _t * Bk * 2 * (_d + _dv);
        CpuParallel.For((long)_b * _hkv * keyTiles, work, (w0, w1) =>
        {
            using var scratch = new KeyTileScratch(self._d, self._dv);
            for (long w = w0; w < w1; w++)
            {
                int b = (int)(w / ((long)self._hkv * keyTiles)), kh = (int)(w / keyTiles % self._hkv);
                self.KeyTile(b, kh, (int)(w % keyTiles) * Bk, keysT, valuesT, dOut, lse, delta, scratch, null, dk, dv);
            }
        });
    }

    /// <summary>
    /// The key tile j0 of key/value head (b, kh) against every query tile of its group's heads that can see it:
    /// dV and dK of the tile, written to dv and dk (when not null), and, when dq is not null, dS·K added to the
    /// rows of dq.
    /// </summary>
    private void KeyTile(int b, int kh, int j0, T* keysT, T* valuesT, T* dOut, T* lse, T* delta, in KeyTileScratch scratch, T* dq, T* dk, T* dv)
    {
        int d = _d, dvSize = _dv, group = _h / _hkv, cols = Math.Min(Bk, _s - j0);
        T* pq = scratch.Q, pp = scratch.P, pds = scratch.DS, pgk = scratch.GK, pgv = scratch.GV;
        T* kt = keysT + TransposedTile(b, kh, j0, d);          // (D, Bk)
        T* vt = valuesT + TransposedTile(b, kh, j0, dvSize);   // (Dv, Bk)
        new Span<T>(pgk, cols * d).Clear();
        new Span<T>(pgv, cols * dvSize).Clear();
        // The first query that sees key j0 is j0 - (S - T) under causal masking.
        int iFirst = _causal ? Math.Max(0, j0 - (_s - _t)) : 0;
        for (int hh = 0; hh < group; hh++)
        {
            int h = kh * group + hh;
            for (int i0 = iFirst / Bq * Bq; i0 < _t; i0 += Bq)
            {
                int rows = Math.Min(Bq, _t - i0);
                ScaledQueries(b, h, i0, rows, pq);
                TileGradients(b, h, i0, rows, pq, j0, cols, kt, vt, dOut, lse, delta, pp, pds);
                // dV (cols, Dv) += Pᵀ (cols, rows) · dO (rows, Dv); dK (cols, D) += dSᵀ (cols, rows) · Q (rows, D),
                // reading P and dS (rows, Bk) transposed in place
                if (dv != null) TileProduct<T>.MatMul(pp, 1, Bk, cols, rows, dOut + OutRow(b, h, i0), dvSize, dvSize, pgv, dvSize, accumulate: true);
                if (dk != null) TileProduct<T>.MatMul(pds, 1, Bk, cols, rows, QRow(b, h, i0), d, d, pgk, d, accumulate: true);
                if (dq != null)
                {
                    // dQ (rows, D) += dS (rows, n) · K (n, D) over the n keys of the tile that the query tile may
                    // see, as many as the query pass takes.
                    int n = Math.Min(cols, KeyEnd(i0 + rows) - j0);
                    TileProduct<T>.MatMul(pds, Bk, 1, rows, n, KRow(b, kh, j0), d, d, dq + (((long)b * _h + h) * _t + i0) * d, d, accumulate: true);
                }
            }
        }
        long kRow = ((long)b * _hkv + kh) * _s + j0;
        if (dk != null) new ReadOnlySpan<T>(pgk, cols * d).CopyTo(new Span<T>(dk + kRow * d, cols * d));
        if (dv != null) new ReadOnlySpan<T>(pgv, cols * dvSize).CopyTo(new Span<T>(dv + kRow * dvSize, cols * dvSize));
    }

    /// <summary>Scratch of one thread for <see cref="KeyTile"/>: the query tile (scaled), probabilities and score
    /// gradients of a query tile (Bq, Bk), and the gradients of the key tile.</summary>
    private readonly struct KeyTileScratch : IDisposable
    {
        private readonly PooledBlock<T> _block;

        public KeyTileScratch(int d, int dv)
        {
            _block = new PooledBlock<T>(Bq * d + 2 * Bq * Bk + Bk * (d + dv));
            Q = _block.Ptr;
            P = Q + Bq * d;
            DS = P + Bq * Bk;
            GK = DS + Bq * Bk;
            GV = GK + Bk * d;
        }

        public T* Q { get; }
        public T* P { get; }
        public T* DS { get; }
        public T* GK { get; }
        public T* GV { get; }

        public void Dispose() => _block.Dispose();
    }

    /// <summary>dQ, one query tile of one head per work item.</summary>
    private void QueryPass(T* dOut, T* lse, T* delta, T* keysT, T* valuesT, T* dq)
    {
        var self = this;
        int tiles = QueryTiles;
        long work = (long)Bq * _s * 2 * (_d + _dv);
        CpuParallel.For((long)_b * _h * tiles, work, (w0, w1) =>
        {
            int d = self._d, dvSize = self._dv;
            using var scratch = new PooledBlock<T>(2 * Bq * d + 2 * Bq * Bk);
            T* pq = scratch.Ptr, pp = pq + Bq * d, pds = pp + Bq * Bk, pgq = pds + Bq * Bk;
            for (long w = w0; w < w1; w++)
            {
                int b = (int)(w / ((long)self._h * tiles)), h = (int)(w / tiles % self._h), i0 = (int)(w % tiles) * Bq;
                int kh = h / (self._h / self._hkv), rows = Math.Min(Bq, self._t - i0);
                self.ScaledQueries(b, h, i0, rows, pq);
                new Span<T>(pgq, rows * d).Clear();
                int keyEnd = self.KeyEnd(i0 + rows);
                for (int j0 = 0; j0 < keyEnd; j0 += Bk)
                {
                    int cols = Math.Min(Bk, keyEnd - j0);
                    T* kt = keysT + self.TransposedTile(b, kh, j0, d);
                    T* vt = valuesT + self.TransposedTile(b, kh, j0, dvSize);
                    self.TileGradients(b, h, i0, rows, pq, j0, cols, kt, vt, dOut, lse, delta, pp, pds);
                    // dQ (rows, D) += dS (rows, cols) · K (cols, D)
                    TileProduct<T>.MatMul(pds, Bk, 1, rows, cols, self.KRow(b, kh, j0), d, d, pgq, d, accumulate: true);
                }
                new ReadOnlySpan<T>(pgq, rows * d).CopyTo(new Span<T>(dq + (((long)b * self._h + h) * self._t + i0) * d, rows * d));
            }
        });
    }
}
