using System.Numerics;
using ILGPU;

namespace PeftEngine.Gpu.Kernels;

/// <summary>
/// Stable sort of each (outer, inner) column of a contiguous x viewed as (outer, n, inner): one thread per column,
/// a bottom-up merge sort in two scratch halves (keys and positions, each column's n slots contiguous), then the
/// first k entries are written out. NaN counts as larger than every number; equal keys keep their order.
/// </summary>
internal static class SortKernels
{
    /// <summary>True when key a (at position ia) must come before key b in the requested direction, for a stable merge.</summary>
    private static bool Before<T>(T a, T b, int descending) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool na = T.IsNaN(a), nb = T.IsNaN(b);
        int cmp = na ? (nb ? 0 : 1) : nb ? -1 : a < b ? -1 : a > b ? 1 : 0;
        return descending != 0 ? cmp > 0 : cmp < 0;
    }

    public static void SortColumns<T>(ArrayView<T> x, long xOff, ArrayView<T> keys, ArrayView<long> pos, ArrayView<T> values, ArrayView<long> indices,
        long outer, long n, long inner, long k, int descending) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long total = outer * n * inner;
        long step = (long)Grid.DimX * Group.DimX;
        for (long c = Grid.GlobalIndex.X; c < outer * inner; c += step)
        {
            long o = c / inner, i = c % inner;
            long src = c * n, dst = total + c * n;
            for (long j = 0; j < n; j++) { keys[src + j] = x[xOff + (o * n + j) * inner + i]; pos[src + j] = j; }
            for (long width = 1; width < n; width *= 2)
            {
                for (long lo = 0; lo < n; lo += 2 * width)
                {
                    long mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
                    long a = lo, b = mid, w = lo;
                    while (a < mid && b < hi)
                    {
                        // take the right element only when it strictly precedes the left one (stability)
                        if (Before(keys[src + b], keys[src + a], descending)) { keys[dst + w] = keys[src + b]; pos[dst + w] = pos[src + b]; b++; }
                        else { keys[dst + w] = keys[src + a]; pos[dst + w] = pos[src + a]; a++; }
                        w++;
                    }
                    while (a < mid) { keys[dst + w] = keys[src + a]; pos[dst + w] = pos[src + a]; a++; w++; }
                    while (b < hi) { keys[dst + w] = keys[src + b]; pos[dst + w] = pos[src + b]; b++; w++; }
                }
                long t = src; src = dst; dst = t;
            }
            for (long j = 0; j < k; j++)
            {
                long at = (o * k + j) * inner + i;
                values[at] = keys[src + j];
                indices[at] = pos[src + j];
            }
        }
    }
}
