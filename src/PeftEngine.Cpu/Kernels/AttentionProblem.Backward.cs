using System.Numerics;
using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

/// <summary>
/// Backward of fused attention (FlashAttention-2 style). The probabilities are recomputed tile by tile from the
/// saved logsumexp, P = exp(s - lse), never stored for the whole sequence. With Δ_i = Σ_c dO_ic·O_ic:
/// dP = dO·Vᵀ, dS = P ∘ (dP - Δ) · scale, dQ = dS·K, dK = dSᵀ·Q, dV = Pᵀ·dO.
/// </summary>
/// <remarks>
/// Two passes keep every write private to one work item, so no two threads touch the same output and the sums
/// run in a fixed order: dK and dV are parallel over (batch, key/value head, key tile), each item looping over
/// the query heads of its group and all query tiles in order; dQ is parallel over (batch, head, query tile),
/// looping over the key tiles in order. Under causal masking both passes skip the tiles no query can see.
/// </remarks>
internal readonly unsafe partial struct AttentionProblem<T>
{
    public void Backward(T* output, T* dOut, T* lse, T* dq, T* dk, T* dv)
    {
        long rowsTotal = (long)_b * _h * _t;
        var delta = new T[rowsTotal];
        fixed (T* pDelta = delta)
        {
            T* dl = pDelta;
            int dvSize = _dv;
            // Δ_i = Σ_c dO_ic · O_ic
            CpuParallel.For(rowsTotal, 2L * dvSize, (r0, r1) =>
            {
                for (long r = r0; r < r1; r++)
                    dl[r] = AttentionTiles<T>.Dot(dOut + r * dvSize, output + r * dvSize, dvSize);
            });
            var keysT = TransposeHeads(_k, _d);
            var valuesT = TransposeHeads(_v, _dv);
            fixed (T* pkt = keysT, pvt = valuesT)
            {
                if (dk != null || dv != null) KeyPass(dOut, lse, dl, pkt, pvt, dk, dv);
                if (dq != null) QueryPass(dOut, lse, dl, pkt, pvt, dq);
            }
        }
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
        AttentionTiles<T>.MatMul(q, _d, 1, rows, _d, kt, Bk, padded, p, Bk, accumulate: false);                          // S = q·Kᵀ
        AttentionTiles<T>.MatMul(dOut + OutRow(b, h, i0), _dv, 1, rows, _dv, vt, Bk, padded, ds, Bk, accumulate: false);   // dP = dO·Vᵀ
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

    /// <summary>dK and dV, one key tile of one key/value head per work item.</summary>
    private void KeyPass(T* dOut, T* lse, T* delta, T* keysT, T* valuesT, T* dk, T* dv)
    {
        var self = this;
        int keyTiles = KeyTiles, group = _h / _hkv;
        long work = (long)group * _t * Bk * 2 * (_d + _dv);
        CpuParallel.For((long)_b * _hkv * keyTiles, work, (w0, w1) =>
        {
            int d = self._d, dvSize = self._dv;
            var q = new T[Bq * d];          // the query tile, scaled
            var p = new T[Bq * Bk];         // probabilities of a query tile, (rows, Bk)
            var ds = new T[Bq * Bk];        // score gradients, (rows, Bk)
            var gk = new T[Bk * d];
            var gv = new T[Bk * dvSize];
            fixed (T* pq = q, pp = p, pds = ds, pgk = gk, pgv = gv)
                for (long w = w0; w < w1; w++)
                {
                    int b = (int)(w / ((long)self._hkv * keyTiles)), kh = (int)(w / keyTiles % self._hkv);
                    int j0 = (int)(w % keyTiles) * Bk, cols = Math.Min(Bk, self._s - j0);
                    T* kt = keysT + self.TransposedTile(b, kh, j0, d);          // (D, Bk)
                    T* vt = valuesT + self.TransposedTile(b, kh, j0, dvSize);   // (Dv, Bk)
                    new Span<T>(pgk, cols * d).Clear();
                    new Span<T>(pgv, cols * dvSize).Clear();
                    // The first query that sees key j0 is j0 - (S - T) under causal masking.
                    int iFirst = self._causal ? Math.Max(0, j0 - (self._s - self._t)) : 0;
                    for (int hh = 0; hh < group; hh++)
                    {
                        int h = kh * group + hh;
                        for (int i0 = iFirst / Bq * Bq; i0 < self._t; i0 += Bq)
                        {
                            int rows = Math.Min(Bq, self._t - i0);
                            self.ScaledQueries(b, h, i0, rows, pq);
                            self.TileGradients(b, h, i0, rows, pq, j0, cols, kt, vt, dOut, lse, delta, pp, pds);
                            // dV (cols, Dv) += Pᵀ (cols, rows) · dO (rows, Dv); dK (cols, D) += dSᵀ (cols, rows) · Q (rows, D),
                            // reading P and dS (rows, Bk) transposed in place
                            AttentionTiles<T>.MatMul(pp, 1, Bk, cols, rows, dOut + self.OutRow(b, h, i0), dvSize, dvSize, pgv, dvSize, accumulate: true);
                            AttentionTiles<T>.MatMul(pds, 1, Bk, cols, rows, self.QRow(b, h, i0), d, d, pgk, d, accumulate: true);
                        }
                    }
                    long kRow = ((long)b * self._hkv + kh) * self._s + j0;
                    if (dk != null) new ReadOnlySpan<T>(pgk, cols * d).CopyTo(new Span<T>(dk + kRow * d, cols * d));
                    if (dv != null) new ReadOnlySpan<T>(pgv, cols * dvSize).CopyTo(new Span<T>(dv + kRow * dvSize, cols * dvSize));
                }
        });
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
            var q = new T[Bq * d];
            var p = new T[Bq * Bk];
            var ds = new T[Bq * Bk];
            var gq = new T[Bq * d];
            fixed (T* pq = q, pp = p, pds = ds, pgq = gq)
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
                        AttentionTiles<T>.MatMul(pds, Bk, 1, rows, cols, self.KRow(b, kh, j0), d, d, pgq, d, accumulate: true);
                    }
                    new ReadOnlySpan<T>(pgq, rows * d).CopyTo(new Span<T>(dq + (((long)b * self._h + h) * self._t + i0) * d, rows * d));
                }
        });
    }
}
