using System.Numerics;
using ILGPU;

namespace PeftEngine.Gpu.Kernels;

/// <summary>
/// Kernels that move elements by index. Geometry as in IBackend.Indexing: contiguous tensors viewed as
/// (outer, n, inner). Accumulating kernels give each thread a whole (outer, inner) column, so repeated indices
/// are summed by one thread in increasing j: no atomics, no races, a fixed order.
/// </summary>
internal static class IndexKernels
{
    /// <summary>y[o, j, i] = x[o, index[j], i] (indexPerElement = 0) or x[o, index[o, j, i], i] (= 1); bits copied.</summary>
    public static void Select<T>(ArrayView<T> x, long xOff, ArrayView<long> index, long iOff, int perElement, ArrayView<T> y, long yOff,
        long outer, long n, long m, long inner) where T : unmanaged
    {
        long step = (long)Grid.DimX * Group.DimX;
        long total = outer * m * inner;
        for (long e = Grid.GlobalIndex.X; e < total; e += step)
        {
            long i = e % inner, j = e / inner % m, o = e / (inner * m);
            long src = index[iOff + (perElement != 0 ? e : j)];
            y[yOff + e] = x[xOff + (o * n + src) * inner + i];
        }
    }

    /// <summary>y[o, index[..], i] += src[o, j, i] for j = 0..m-1 in order, one thread per (o, i); the index is
    /// index[j] (perElement = 0) or index[o, j, i] (= 1). With zeroFirst the column of y is cleared first.</summary>
    public static void Accumulate<T>(ArrayView<T> y, long yOff, ArrayView<long> index, long iOff, int perElement, ArrayView<T> src, long sOff,
        long outer, long n, long m, long inner, int zeroFirst) where T : unmanaged, INumber<T>
    {
        long step = (long)Grid.DimX * Group.DimX;
        for (long c = Grid.GlobalIndex.X; c < outer * inner; c += step)
        {
            long o = c / inner, i = c % inner;
            if (zeroFirst != 0)
                for (long v = 0; v < n; v++) y[yOff + (o * n + v) * inner + i] = T.Zero;
            for (long j = 0; j < m; j++)
            {
                long e = (o * m + j) * inner + i;
                long dst = index[iOff + (perElement != 0 ? e : j)];
                y[yOff + (o * n + dst) * inner + i] += src[sOff + e];
            }
        }
    }

    /// <summary>Keeps the lower (upper = 0) or upper triangle of each (rows, cols) matrix relative to diagonal.</summary>
    public static void Triangle<T>(ArrayView<T> x, long xOff, ArrayView<T> y, long yOff, long total, long rows, long cols, long diagonal, int upper)
        where T : unmanaged
    {
        long step = (long)Grid.DimX * Group.DimX;
        for (long e = Grid.GlobalIndex.X; e < total; e += step)
        {
            long c = e % cols, r = e / cols % rows;
            bool keep = upper != 0 ? c >= r + diagonal : c <= r + diagonal;
            y[yOff + e] = keep ? x[xOff + e] : default;
        }
    }

    /// <summary>y[i] = start + i · step in double, stored in the dtype.</summary>
    public static void Arange(ArrayView<byte> y, long yOff, int dtype, long n, double start, double step)
    {
        long s = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < n; i += s) ElementBits.Store(y, dtype, yOff + i, start + i * step);
    }

    /// <summary>y[i] = start + i · step in 64-bit integers.</summary>
    public static void ArangeLong(ArrayView<long> y, long yOff, long n, long start, long step)
    {
        long s = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < n; i += s) y[yOff + i] = start + i * step;
    }

    /// <summary>Rotary embedding, one work item per element of x (rows, d): rows are (…, T) flattened.</summary>
    public static void Rotary<T>(ArrayView<T> x, ArrayView<T> cos, ArrayView<T> sin, ArrayView<T> y,
        long total, long t, long d, long half, long positionOffset, int interleaved, int inverse) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long step = (long)Grid.DimX * Group.DimX;
        for (long e = Grid.GlobalIndex.X; e < total; e += step)
        {
            long row = e / d, j = e % d;
            long rb = row * d;
            if (j >= 2 * half) { y[e] = x[e]; continue; }
            // pair k = (ia, ib); this element is its first (a) or second (b) member
            long k = interleaved != 0 ? j / 2 : j % half;
            bool first = interleaved != 0 ? j % 2 == 0 : j < half;
            long ia = interleaved != 0 ? 2 * k : k, ib = interleaved != 0 ? 2 * k + 1 : k + half;
            long p = positionOffset + row % t;
            T c = cos[p * half + k], s = sin[p * half + k];
            if (inverse != 0) s = -s;
            T a = x[rb + ia], b = x[rb + ib];
            // (a, b) -> (a cos - b sin, a sin + b cos)
            y[e] = first ? a * c - b * s : a * s + b * c;
        }
    }
}
