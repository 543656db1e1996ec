using System.Numerics;
using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void AttentionForward(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal, double scale, Tensor output, Tensor lse)
    {
        switch (q.DType)
        {
            case DType.F32: new AttentionProblem<float>(q, k, v, mask, causal, scale).Forward(Ptr<float>(output), Ptr<float>(lse)); break;
            case DType.F64: new AttentionProblem<double>(q, k, v, mask, causal, scale).Forward(Ptr<double>(output), Ptr<double>(lse)); break;
            default: throw Unsupported("AttentionForward", q.DType);
        }
    }

    public void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal, double scale,
        Tensor output, Tensor dOutput, Tensor lse, Tensor? dq, Tensor? dk, Tensor? dv)
    {
        switch (q.DType)
        {
            case DType.F32:
                new AttentionProblem<float>(q, k, v, mask, causal, scale).Backward(Ptr<float>(output), Ptr<float>(dOutput),
                    Ptr<float>(lse), OrNull<float>(dq), OrNull<float>(dk), OrNull<float>(dv));
                break;
            case DType.F64:
                new AttentionProblem<double>(q, k, v, mask, causal, scale).Backward(Ptr<double>(output), Ptr<double>(dOutput),
                    Ptr<double>(lse), OrNull<double>(dq), OrNull<double>(dk), OrNull<double>(dv));
                break;
            default: throw Unsupported("AttentionBackward", q.DType);
        }
    }

    private static T* OrNull<T>(Tensor? t) where T : unmanaged => t is null ? null : Ptr<T>(t);
}

/// <summary>
/// One fused attention call: the sizes, the raw pointers of q, k, v and the mask, and the tiled forward.
/// The backward is in AttentionProblem.Backward.cs.
/// </summary>
/// <remarks>
/// Forward, per (batch, head, tile of queries): for each key tile the scores s = q·kᵀ·scale + mask are formed
/// for the tile only, and an online softmax keeps, per query row, the running maximum m, the running sum
/// l = Σ exp(s - m) and the unnormalised output o = Σ exp(s - m)·v. A new tile with maximum m' rescales l and o by
/// exp(m - m'). At the end out = o / l and lse = m + log l. Under causal masking the key tiles past the last
/// query's limit are never visited.
/// </remarks>
internal readonly unsafe partial struct AttentionProblem<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private const int Bq = AttentionTiles<T>.QueryTile, Bk = AttentionTiles<T>.KeyTile;

    private readonly T* _q, _k, _v, _mask;
    private readonly long _maskStrideB, _maskStrideH, _maskStrideT;
    private readonly int _b, _h, _hkv, _t, _s, _d, _dv;
    private readonly bool _causal;
    private readonly T _scale;

    public AttentionProblem(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal, double scale)
    {
        _q = q.HostStorage.Ptr<T>(q.Offset);
        _k = k.HostStorage.Ptr<T>(k.Offset);
        _v = v.HostStorage.Ptr<T>(v.Offset);
        (_b, _h, _t, _d) = (q.Shape[0], q.Shape[1], q.Shape[2], q.Shape[3]);
        (_hkv, _s, _dv) = (k.Shape[1], k.Shape[2], v.Shape[3]);
        _causal = causal;
        _scale = T.CreateChecked(scale);
        if (mask is not null)
        {
            if (mask.Strides[3] != 1 && _s > 1)
                throw new ArgumentException($"AttentionForward: the mask must have stride 1 along keys, got strides ({string.Join(", ", mask.StridesArray())})");
            _mask = mask.HostStorage.Ptr<T>(mask.Offset);
            (_maskStrideB, _maskStrideH, _maskStrideT) = (mask.Strides[0], mask.Strides[1], mask.Strides[2]);
        }
    }

    private int QueryTiles => (_t + Bq - 1) / Bq;
    private int KeyTiles => (_s + Bk - 1) / Bk;

    /// <summary>The last key query row i may see (i + S - T under causal masking, otherwise past every key).</summary>
    private long CausalLimit(int i) => _causal ? i + (long)(_s - _t) : int.MaxValue;

    /// <summary>The end of the keys any of the query rows [i0, i1) may see.</summary>
    private int KeyEnd(int i1) => (int)Math.Min(_s, CausalLimit(i1 - 1) + 1);

    private T* MaskRow(int b, int h, int i) => _mask == null ? null : _mask + b * _maskStrideB + h * _maskStrideH + i * _maskStrideT;
    private T* QRow(int b, int h, int i) => _q + (((long)b * _h + h) * _t + i) * _d;
    private T* KRow(int b, int kh, int j) => _k + (((long)b * _hkv + kh) * _s + j) * _d;
    private T* VRow(int b, int kh, int j) => _v + (((long)b * _hkv + kh) * _s + j) * _dv;
    private long OutRow(int b, int h, int i) => (((long)b * _h + h) * _t + i) * _dv;
    private long LseAt(int b, int h, int i) => ((long)b * _h + h) * _t + i;

    /// <summary>
    /// The keys (or values) of every head transposed once, tile by tile: (B, Hkv, S, width) ->
    /// (B, Hkv, key tiles, width, Bk), so that a query row meets a key tile as width contiguous rows of Bk
    /// (short rows close together, rather than rows S apart that would fight over the same cache sets).
    /// O(S·width) memory per head, like k itself, rented from the pool; only the padding past the last key of a
    /// partial tile is cleared. See <see cref="TransposedTile"/>.
    /// </summary>
    private PooledBlock<T> TransposeHeads(T* src, int width)
    {
        int s = _s, keyTiles = KeyTiles;
        var block = new PooledBlock<T>((long)_b * _hkv * keyTiles * width * Bk);
        T* d = block.Ptr;
        CpuParallel.For((long)_b * _hkv, (long)s * width, (h0, h1) =>
        {
            for (long bh = h0; bh < h1; bh++)
                for (int tile = 0; tile < keyTiles; tile++)
                {
                    int j0 = tile * Bk, cols = Math.Min(Bk, s - j0);
                    T* dt = d + (bh * keyTiles + tile) * width * Bk;
                    AttentionTiles<T>.Transpose(src + (bh * s + j0) * width, width, cols, width, dt, Bk);   // (cols, width) -> (width, Bk)
                    if (cols < Bk)
                        for (int c = 0; c < width; c++) new Span<T>(dt + c * Bk + cols, Bk - cols).Clear();
                }
        });
        return block;
    }

    /// <summary>Where the transposed tile (width, Bk) of keys j0 .. j0 + Bk of head (b, kh) starts in the
    /// output of <see cref="TransposeHeads"/>.</summary>
    private long TransposedTile(int b, int kh, int j0, int width) => (((long)b * _hkv + kh) * KeyTiles + j0 / Bk) * width * Bk;

    /// <summary>Copies query rows [i0, i0 + rows) of head h, multiplied by the scale, to dst (rows, D).</summary>
    private void ScaledQueries(int b, int h, int i0, int rows, T* dst) =>
        TensorPrimitives.Multiply(new ReadOnlySpan<T>(QRow(b, h, i0), rows * _d), _scale, new Span<T>(dst, rows * _d));

    public void Forward(T* output, T* lse)
    {
        var self = this;
        int tiles = QueryTiles;
        long work = (long)Bq * _s * (_d + _dv);
        using var keysT = TransposeHeads(_k, _d);
        T* kt = keysT.Ptr;
        CpuParallel.For((long)_b * _h * tiles, work, (w0, w1) =>
        {
            // The query tile (scaled), the score tile (then probabilities), the unnormalised outputs of the query
            // tile, and the running maximum and sum of each row.
            int d = self._d, dv = self._dv;
            using var scratch = new PooledBlock<T>(Bq * (d + Bk + dv + 2));
            T* pq = scratch.Ptr, ps = pq + Bq * d, pacc = ps + Bq * Bk, pm = pacc + Bq * dv, pl = pm + Bq;
            for (long w = w0; w < w1; w++)
            {
                int b = (int)(w / ((long)self._h * tiles)), h = (int)(w / tiles % self._h), tile = (int)(w % tiles);
                self.ForwardTile(b, h, tile * Bq, Math.Min(self._t, (tile + 1) * Bq), kt, pq, ps, pacc, pm, pl, output, lse);
            }
        });
    }

    private void ForwardTile(int b, int h, int i0, int i1, T* keysT, T* q, T* s, T* acc, T* m, T* l, T* output, T* lse)
    {
        int kh = h / (_h / _hkv), rows = i1 - i0;
        ScaledQueries(b, h, i0, rows, q);
        new Span<T>(acc, rows * _dv).Clear();
        new Span<T>(m, rows).Fill(T.NegativeInfinity);
        new Span<T>(l, rows).Clear();
        int keyEnd = KeyEnd(i1);
        for (int j0 = 0; j0 < keyEnd; j0 += Bk)
        {
            int cols = Math.Min(Bk, keyEnd - j0);
            T* kt = keysT + TransposedTile(b, kh, j0, _d);   // (D, Bk)
            // The score tile (rows, Bk) = q (rows, D) · kt (D, Bk), whole vectors of keys (kt is zero-padded).
            TileProduct<T>.MatMul(q, _d, 1, rows, _d, kt, Bk, AttentionTiles<T>.PaddedColumns(cols), s, Bk, accumulate: false);
            for (int r = 0; r < rows; r++)
            {
                int i = i0 + r;
                T* row = s + r * Bk;
                int n = (int)Math.Min(cols, CausalLimit(i) - j0 + 1);   // keys of this tile row i may see
                T mNew = m[r];
                if (n > 0)
                {
                    T* maskRow = MaskRow(b, h, i);
                    if (maskRow != null) TensorPrimitives.Add(new ReadOnlySpan<T>(row, n), new ReadOnlySpan<T>(maskRow + j0, n), new Span<T>(row, n));
                    mNew = T.Max(mNew, AttentionTiles<T>.Max(row, n));
                }
                if (n <= 0 || T.IsNegativeInfinity(mNew))   // nothing visible here, or everything so far is masked out
                {
                    new Span<T>(row, cols).Clear();
                    continue;
                }
                new Span<T>(row + n, cols - n).Clear();
                T alpha = T.Exp(m[r] - mNew);
                l[r] = l[r] * alpha + AttentionTiles<T>.ExpShiftedSum(row, n, mNew);   // p = exp(s - m')
                if (alpha != T.One) TensorPrimitives.Multiply(new Span<T>(acc + r * _dv, _dv), alpha, new Span<T>(acc + r * _dv, _dv));
                m[r] = mNew;
            }
            // o (rows, Dv) += P (rows, cols) · V (cols, Dv); rows that see no key of the tile have P = 0.
            TileProduct<T>.MatMul(s, Bk, 1, rows, cols, VRow(b, kh, j0), _dv, _dv, acc, _dv, accumulate: true);
        }
        for (int r = 0; r < rows; r++)
        {
            int i = i0 + r;
            TensorPrimitives.Multiply(new ReadOnlySpan<T>(acc + r * _dv, _dv), T.One / l[r], new Span<T>(output + OutRow(b, h, i), _dv));
            lse[LseAt(b, h, i)] = m[r] + T.Log(l[r]);
        }
    }
}
