using System.Numerics;
using ILGPU;

namespace PeftEngine.Gpu.Kernels;

/// <summary>
/// Reductions of a contiguous x viewed as (outer, n, inner) along n. Two shapes of work: with inner = 1 each
/// group reduces one row of n contiguous elements (a tree over the group); otherwise each thread reduces one
/// (outer, inner) column serially, which reads memory coalesced across neighbouring threads.
/// </summary>
internal static class ReduceKernels
{
    /// <summary>A sentinel index meaning "this thread saw no element".</summary>
    private const long None = long.MaxValue;

    /// <summary>True when candidate (vb, ib) beats the current (va, ia) for max (or min when <paramref name="min"/>):
    /// the first NaN, else the first extreme value.</summary>
    private static bool Better<T>(T va, long ia, T vb, long ib, bool min) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (ib == None) return false;
        if (ia == None) return true;
        bool na = T.IsNaN(va), nb = T.IsNaN(vb);
        if (na || nb) return nb && (!na || ib < ia);
        if (vb == va) return ib < ia;
        return min ? vb < va : vb > va;
    }

    /// <summary>Column reduction: one thread per (o, i) of outer·inner outputs, k = 0..n-1 in order.</summary>
    public static void Columns<T, TR>(ArrayView<T> x, long xOff, ArrayView<T> y, long yOff, ArrayView<long> idx, long idxOff, int wantIdx,
        long outer, long n, long inner, int op) where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        TR r = default;
        long step = (long)Grid.DimX * Group.DimX;
        for (long c = Grid.GlobalIndex.X; c < outer * inner; c += step)
        {
            long o = c / inner, i = c % inner;
            long b = xOff + o * n * inner + i;
            var rop = (ReduceOp)op;
            T acc = rop == ReduceOp.Max || rop == ReduceOp.LogSumExp ? T.NegativeInfinity : rop == ReduceOp.Min ? T.PositiveInfinity : rop == ReduceOp.Prod ? T.One : T.Zero;
            long best = 0;
            for (long k = 0; k < n; k++)
            {
                T v = x[b + k * inner];
                if (rop == ReduceOp.Sum || rop == ReduceOp.Mean) acc += v;
                else if (rop == ReduceOp.Prod) acc *= v;
                else if (rop == ReduceOp.Min) { if (v < acc || T.IsNaN(v) && !T.IsNaN(acc)) { acc = v; best = k; } }
                else if (v > acc || T.IsNaN(v) && !T.IsNaN(acc)) { acc = v; best = k; }
            }
            if (rop == ReduceOp.Mean) acc /= r.From(n);
            if (rop == ReduceOp.LogSumExp && T.IsFinite(acc))
            {
                T s = T.Zero;
                for (long k = 0; k < n; k++) s += T.Exp(x[b + k * inner] - acc);
                acc += T.Log(s);
            }
            y[yOff + c] = acc;
            if (wantIdx != 0) idx[idxOff + c] = best;
        }
    }

    /// <summary>Row reduction: one group per row of n contiguous elements (inner = 1).</summary>
    public static void Rows<T, TR>(ArrayView<T> x, long xOff, ArrayView<T> y, long yOff, ArrayView<long> idx, long idxOff, int wantIdx,
        long rows, long n, int op) where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        var shared = SharedMemory.Allocate<T>(GroupMath.MaxGroupSize);
        var sharedIdx = SharedMemory.Allocate<long>(GroupMath.MaxGroupSize);
        TR r = default;
        var rop = (ReduceOp)op;
        int t = Group.IdxX;
        for (long row = Grid.IdxX; row < rows; row += Grid.DimX)
        {
            long b = xOff + row * n;
            T result;
            if (rop == ReduceOp.Sum || rop == ReduceOp.Mean || rop == ReduceOp.Prod)
            {
                T acc = rop == ReduceOp.Prod ? T.One : T.Zero;
                for (long k = t; k < n; k += Group.DimX) acc = rop == ReduceOp.Prod ? acc * x[b + k] : acc + x[b + k];
                if (rop == ReduceOp.Prod)
                {
                    shared[t] = acc;
                    Group.Barrier();
                    for (int s = Group.DimX / 2; s > 0; s >>= 1)
                    {
                        if (t < s) shared[t] = shared[t] * shared[t + s];
                        Group.Barrier();
                    }
                    result = shared[0];
                    Group.Barrier();
                }
                else
                {
                    result = GroupMath.Sum(acc, shared);
                    if (rop == ReduceOp.Mean) result /= r.From(n);
                }
            }
            else
            {
                // max / min / logsumexp: (value, first index) pairs, combined so the first extreme wins
                bool min = rop == ReduceOp.Min;
                T v = T.Zero;
                long at = None;
                for (long k = t; k < n; k += Group.DimX)
                    if (Better(v, at, x[b + k], k, min)) { v = x[b + k]; at = k; }
                shared[t] = v;
                sharedIdx[t] = at;
                Group.Barrier();
                for (int s = Group.DimX / 2; s > 0; s >>= 1)
                {
                    if (t < s && Better(shared[t], sharedIdx[t], shared[t + s], sharedIdx[t + s], min))
                    {
                        shared[t] = shared[t + s];
                        sharedIdx[t] = sharedIdx[t + s];
                    }
                    Group.Barrier();
                }
                long best = sharedIdx[0];
                result = best == None ? (min ? T.PositiveInfinity : T.NegativeInfinity) : shared[0];
                Group.Barrier();
                if (best == None) best = 0;
                if (rop == ReduceOp.LogSumExp && T.IsFinite(result))
                {
                    T s = T.Zero;
                    for (long k = t; k < n; k += Group.DimX) s += T.Exp(x[b + k] - result);
                    result += T.Log(GroupMath.Sum(s, shared));
                }
                if (t == 0 && wantIdx != 0) idx[idxOff + row] = best;
            }
            if (t == 0) y[yOff + row] = result;
        }
    }

    /// <summary>Prefix sum (op 0) or product (op 1) of each (o, i) column in scan order, one thread per column;
    /// reverse runs from the end, exclusive leaves out the element itself.</summary>
    public static void Scan<T>(ArrayView<T> x, long xOff, ArrayView<T> y, long yOff, long outer, long n, long inner, int op, int reverse, int exclusive)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        long step = (long)Grid.DimX * Group.DimX;
        for (long c = Grid.GlobalIndex.X; c < outer * inner; c += step)
        {
            long o = c / inner, i = c % inner;
            T acc = op == 0 ? T.Zero : T.One;
            for (long s = 0; s < n; s++)
            {
                long k = reverse != 0 ? n - 1 - s : s;
                long at = (o * n + k) * inner + i;
                T v = x[xOff + at];
                if (exclusive != 0) y[yOff + at] = acc;
                acc = op == 0 ? acc + v : acc * v;
                if (exclusive == 0) y[yOff + at] = acc;
            }
        }
    }
}
