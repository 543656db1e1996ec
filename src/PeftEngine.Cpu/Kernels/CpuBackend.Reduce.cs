using System.Numerics;
using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

/// <summary>
/// Reductions along one dimension of a contiguous x viewed as (outer, n, inner). Two layouts:
/// <list type="bullet">
/// <item>inner == 1: every output reduces one contiguous row with a SIMD primitive. A row longer than
/// <see cref="RowChunk"/> is cut into fixed chunks reduced in parallel and combined in chunk order, so even a
/// single long row uses every thread and the result does not depend on the thread count.</item>
/// <item>inner &gt; 1: output row o combines the n input rows (o, k, :) element by element with SIMD, in blocks
/// of <see cref="ColumnBlock"/> columns that run in parallel; each output element sees k in ascending order.</item>
/// </list>
/// </summary>
public sealed unsafe partial class CpuBackend
{
    /// <summary>Elements per chunk of a long row (inner == 1).</summary>
    private const int RowChunk = 1 << 14;

    /// <summary>Columns per parallel block when the reduced axis is not the last (inner &gt; 1).</summary>
    private const int ColumnBlock = 1024;

    public void Reduce(ReduceOp op, Tensor x, int dim, Tensor y, Tensor? indices = null)
    {
        switch (x.DType)
        {
            case DType.F32: ReduceTyped<float>(op, x, dim, y, indices); break;
            case DType.F64: ReduceTyped<double>(op, x, dim, y, indices); break;
            default: throw Unsupported($"Reduce {op}", x.DType);
        }
    }

    private static void ReduceTyped<T>(ReduceOp op, Tensor x, int dim, Tensor y, Tensor? indices)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (outer, n, inner) = ReferenceBackend.ReduceGeometry(x.Shape, dim);
        T* px = Ptr<T>(x), py = Ptr<T>(y);
        long* pi = indices is null ? null : Ptr<long>(indices);
        if (outer * inner == 0) return;
        if (n == 0)
        {
            // The value of an empty reduction, as the reference defines it.
            T empty = op switch
            {
                ReduceOp.Sum => T.Zero,
                ReduceOp.Mean => T.NaN,
                ReduceOp.Prod => T.One,
                ReduceOp.Min => T.PositiveInfinity,
                _ => T.NegativeInfinity,
            };
            new Span<T>(py, (int)(outer * inner)).Fill(empty);
            if (pi != null) new Span<long>(pi, (int)(outer * inner)).Clear();
            return;
        }
        if (inner == 1) ReduceRows(op, px, py, pi, outer, n);
        else ReduceColumns(op, px, py, pi, outer, n, inner);
    }

    // ---- inner == 1: contiguous rows ----

    private static void ReduceRows<T>(ReduceOp op, T* px, T* py, long* pi, long outer, long n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        long chunks = (n + RowChunk - 1) / RowChunk;
        int chunkLen = (int)Math.Min(n, RowChunk);
        if (op == ReduceOp.LogSumExp)
        {
            // Pass 1: py[r] = m, the row maximum. Pass 2: partial sums of exp(x - m) per chunk.
            ReduceRows(ReduceOp.Max, px, py, null, outer, n);
            var sums = new T[outer * chunks];
            CpuParallel.For(outer * chunks, chunkLen * 4L, (j0, j1) =>
            {
                var tmp = new T[chunkLen];
                for (long j = j0; j < j1; j++)
                {
                    long r = j / chunks, start = j % chunks * RowChunk;
                    int len = (int)Math.Min(RowChunk, n - start);
                    T m = py[r];
                    if (!T.IsFinite(m)) continue; // the result is m itself
                    var t = tmp.AsSpan(0, len);
                    TensorPrimitives.Subtract(new ReadOnlySpan<T>(px + r * n + start, len), m, t);
                    TensorPrimitives.Exp(t, t);
                    sums[j] = TensorPrimitives.Sum<T>(t);
                }
            });
            for (long r = 0; r < outer; r++)
            {
                T m = py[r];
                if (!T.IsFinite(m)) continue;
                T s = T.Zero;
                for (long c = 0; c < chunks; c++) s += sums[r * chunks + c];
                py[r] = m + T.Log(s);
            }
            return;
        }

        // One (value, index) per chunk; with a single chunk per row it is the result itself.
        T[]? partial = chunks == 1 ? null : new T[outer * chunks];
        long[]? partialIndex = chunks == 1 ? null : new long[outer * chunks];
        T count = T.CreateTruncating(n);
        CpuParallel.For(outer * chunks, chunkLen, (j0, j1) =>
        {
            for (long j = j0; j < j1; j++)
            {
                long r = j / chunks, start = j % chunks * RowChunk;
                int len = (int)Math.Min(RowChunk, n - start);
                var (v, k) = ReduceSpan(op, new ReadOnlySpan<T>(px + r * n + start, len));
                if (partial is null)
                {
                    py[r] = op == ReduceOp.Mean ? v / count : v;
                    if (pi != null) pi[r] = k;
                }
                else
                {
                    partial[j] = v;
                    partialIndex![j] = start + k;
                }
            }
        });
        if (partial is null) return;
        for (long r = 0; r < outer; r++)
        {
            long at = r * chunks;
            T acc = partial[at];
            long best = partialIndex![at];
            for (long c = 1; c < chunks; c++)
            {
                T v = partial[at + c];
                switch (op)
                {
                    case ReduceOp.Sum or ReduceOp.Mean: acc += v; break;
                    case ReduceOp.Prod: acc *= v; break;
                    default:
                        if (IsBetter(op == ReduceOp.Max, v, acc)) { acc = v; best = partialIndex[at + c]; }
                        break;
                }
            }
            py[r] = op == ReduceOp.Mean ? acc / count : acc;
            if (pi != null) pi[r] = best;
        }
    }

    /// <summary>Reduces one contiguous span; for Max/Min also the index of the first extreme element.</summary>
    private static (T Value, long Index) ReduceSpan<T>(ReduceOp op, ReadOnlySpan<T> s)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (op)
        {
            case ReduceOp.Sum or ReduceOp.Mean: return (TensorPrimitives.Sum(s), 0);
            case ReduceOp.Prod: return (TensorPrimitives.Product(s), 0);
            case ReduceOp.Max or ReduceOp.Min:
                // IndexOf{Max,Min} return the first NaN if there is one, else the first extreme element, except
                // that they rank +0 above -0; the reference treats the two zeros as equal, so look again.
                int k = op == ReduceOp.Max ? TensorPrimitives.IndexOfMax(s) : TensorPrimitives.IndexOfMin(s);
                T v = s[k];
                if (T.IsZero(v))
                    k = FirstZero(s);
                return (s[k], k);
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "no span reduction");
        }
    }

    private static int FirstZero<T>(ReadOnlySpan<T> s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < s.Length; i++)
            if (T.IsZero(s[i])) return i;
        return -1;
    }

    /// <summary>True when v replaces the running extreme acc: strictly beyond it, or NaN where acc is not.</summary>
    private static bool IsBetter<T>(bool max, T v, T acc) where T : IFloatingPointIeee754<T> =>
        (max ? v > acc : v < acc) || T.IsNaN(v) && !T.IsNaN(acc);

    // ---- inner > 1: combine whole rows element by element ----

    private static void ReduceColumns<T>(ReduceOp op, T* px, T* py, long* pi, long outer, long n, long inner)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ForColumnBlocks(outer, inner, n, (o, c0, len) =>
        {
            T* scratch = stackalloc T[2 * len];
            T* src = px + o * n * inner + c0; // row k of this block starts at src + k * inner
            long* dstIndex = pi == null ? null : pi + o * inner + c0;
            ReduceBlock(op, src, inner, n, py + o * inner + c0, dstIndex, len, scratch);
        });
    }

    /// <summary>Runs body(o, c0, len) for every block of at most <see cref="ColumnBlock"/> columns [c0, c0 + len)
    /// of every outer index o, in parallel; <paramref name="workPerColumn"/> is the cost of one column.</summary>
    private static void ForColumnBlocks(long outer, long inner, long workPerColumn, Action<long, long, int> body)
    {
        long blocks = (inner + ColumnBlock - 1) / ColumnBlock;
        CpuParallel.For(outer * blocks, Math.Max(1, workPerColumn) * Math.Min(inner, ColumnBlock), (j0, j1) =>
        {
            for (long j = j0; j < j1; j++)
            {
                long c0 = j % blocks * ColumnBlock;
                body(j / blocks, c0, (int)Math.Min(ColumnBlock, inner - c0));
            }
        });
    }

    private static void ReduceBlock<T>(ReduceOp op, T* src, long inner, long n, T* dst, long* dstIndex, int len, T* scratch)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var acc = new Span<T>(dst, len);
        switch (op)
        {
            case ReduceOp.Sum or ReduceOp.Mean or ReduceOp.Prod:
                new ReadOnlySpan<T>(src, len).CopyTo(acc);
                for (long k = 1; k < n; k++)
                {
                    var row = new ReadOnlySpan<T>(src + k * inner, len);
                    if (op == ReduceOp.Prod) TensorPrimitives.Multiply(acc, row, acc);
                    else TensorPrimitives.Add(acc, row, acc);
                }
                if (op == ReduceOp.Mean) TensorPrimitives.Divide(acc, T.CreateTruncating(n), acc);
                break;
            case ReduceOp.Max or ReduceOp.Min:
                ExtremeBlock(op == ReduceOp.Max, src, inner, n, dst, dstIndex, len, scratch);
                break;
            case ReduceOp.LogSumExp:
                // acc = m (column maxima); sum = Σ_k exp(x_k - m); result m + log(sum)
                ExtremeBlock(true, src, inner, n, dst, null, len, scratch);
                var sum = new Span<T>(scratch, len);
                var tmp = new Span<T>(scratch + len, len);
                sum.Clear();
                for (long k = 0; k < n; k++)
                {
                    TensorPrimitives.Subtract(new ReadOnlySpan<T>(src + k * inner, len), acc, tmp);
                    TensorPrimitives.Exp(tmp, tmp);
                    TensorPrimitives.Add(sum, tmp, sum);
                }
                for (int c = 0; c < len; c++)
                    if (T.IsFinite(acc[c])) acc[c] += T.Log(sum[c]); // ±inf and NaN maxima are the result
                break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "unknown reduction");
        }
    }

    /// <summary>
    /// Column-wise max (or min) over n rows with the index of the first extreme row, using Vector&lt;T&gt; compare
    /// masks. The running index is kept as a T (exact up to 2^24 for float, beyond which a scalar loop runs).
    /// </summary>
    private static void ExtremeBlock<T>(bool max, T* src, long inner, long n, T* dst, long* dstIndex, int len, T* index)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        new ReadOnlySpan<T>(src, len).CopyTo(new Span<T>(dst, len));
        bool exactIndex = typeof(T) == typeof(double) || n <= 1 << 24;
        if (!exactIndex)
        {
            for (int c = 0; c < len; c++)
            {
                long best = 0;
                for (long k = 1; k < n; k++)
                {
                    T v = src[k * inner + c];
                    if (IsBetter(max, v, dst[c])) { dst[c] = v; best = k; }
                }
                if (dstIndex != null) dstIndex[c] = best;
            }
            return;
        }
        int width = Vector<T>.Count;
        int vectorEnd = Vector.IsHardwareAccelerated ? len - len % width : 0;
        new Span<T>(index, len).Clear();
        for (long k = 1; k < n; k++)
        {
            T* row = src + k * inner;
            T kt = T.CreateTruncating(k);
            var kv = new Vector<T>(kt);
            int c = 0;
            for (; c < vectorEnd; c += width)
            {
                var v = Vector.Load(row + c);
                var a = Vector.Load(dst + c);
                var better = max ? Vector.GreaterThan(v, a) : Vector.LessThan(v, a);
                better |= Vector.AndNot(Vector.Equals(a, a), Vector.Equals(v, v)); // v is NaN, a is not
                Vector.ConditionalSelect(better, v, a).Store(dst + c);
                Vector.ConditionalSelect(better, kv, Vector.Load(index + c)).Store(index + c);
            }
            for (; c < len; c++)
                if (IsBetter(max, row[c], dst[c])) { dst[c] = row[c]; index[c] = kt; }
        }
        if (dstIndex != null)
            for (int c = 0; c < len; c++) dstIndex[c] = long.CreateTruncating(index[c]);
    }
}
