using System.Numerics;

namespace PeftEngine.Cpu;

/// <summary>
/// Sort and top-k along one dimension of a contiguous (outer, n, inner) view, and the scatter that backs both
/// (and max/min) in backward. Each (o, :, i) column is copied into a buffer of (value, index) pairs and sorted
/// by a comparer that breaks ties by index, which makes the unstable introsort of
/// <see cref="MemoryExtensions.Sort{T, TComparer}(Span{T}, TComparer)"/> give the stable order. Columns run in
/// parallel.
/// </summary>
public sealed unsafe partial class CpuBackend
{
    public void Sort(Tensor x, int dim, bool descending, Tensor values, Tensor indices) =>
        TopK(x, dim, x.Shape[dim], descending, values, indices);

    public void TopK(Tensor x, int dim, int k, bool largest, Tensor values, Tensor indices)
    {
        switch (x.DType)
        {
            case DType.F32: SortedPrefix<float>(x, dim, k, largest, values, indices); break;
            case DType.F64: SortedPrefix<double>(x, dim, k, largest, values, indices); break;
            default: throw Unsupported("Sort/TopK", x.DType);
        }
    }

    /// <summary>The first k entries of the stable sort of every column.</summary>
    private static void SortedPrefix<T>(Tensor x, int dim, int k, bool descending, Tensor values, Tensor indices)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (outer, n, inner) = ReferenceBackend.ReduceGeometry(x.Shape, dim);
        T* px = Ptr<T>(x), pv = Ptr<T>(values);
        long* pi = Ptr<long>(indices);
        if (k == 0 || outer * inner == 0) return;
        long work = n * (1 + BitOperations.Log2((ulong)n));
        CpuParallel.For(outer * inner, work, (j0, j1) =>
        {
            var buffer = new SortEntry<T>[n];
            for (long j = j0; j < j1; j++)
            {
                long o = j / inner, i = j % inner;
                T* src = px + o * n * inner + i;
                for (int t = 0; t < n; t++) buffer[t] = new SortEntry<T>(src[t * inner], t);
                var best = descending
                    ? SortedPrefix(buffer.AsSpan(), k, new DescendingOrder<T>())
                    : SortedPrefix(buffer.AsSpan(), k, new AscendingOrder<T>());
                T* dv = pv + o * k * inner + i;
                long* di = pi + o * k * inner + i;
                for (int t = 0; t < k; t++)
                {
                    dv[t * inner] = best[t].Value;
                    di[t * inner] = best[t].Index;
                }
            }
        });
    }

    /// <summary>Puts the first k entries of all (in the comparer's order) sorted at the front and returns them.
    /// A small k keeps a heap of the k best seen so far (n log k); a large k sorts everything.</summary>
    private static Span<SortEntry<T>> SortedPrefix<T, TOrder>(Span<SortEntry<T>> all, int k, TOrder order)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TOrder : struct, IComparer<SortEntry<T>>
    {
        if ((long)k * 8 > all.Length)
        {
            all.Sort(order);
            return all[..k];
        }
        // Max-heap on the order over all[0..k): the root is the worst entry kept so far.
        var heap = all[..k];
        for (int i = k / 2 - 1; i >= 0; i--) SiftDown(heap, i, order);
        for (int t = k; t < all.Length; t++)
        {
            if (order.Compare(all[t], heap[0]) >= 0) continue;
            heap[0] = all[t];
            SiftDown(heap, 0, order);
        }
        heap.Sort(order);
        return heap;
    }

    private static void SiftDown<T, TOrder>(Span<SortEntry<T>> heap, int i, TOrder order)
        where T : unmanaged where TOrder : struct, IComparer<SortEntry<T>>
    {
        while (true)
        {
            int largest = i, l = 2 * i + 1, r = l + 1;
            if (l < heap.Length && order.Compare(heap[l], heap[largest]) > 0) largest = l;
            if (r < heap.Length && order.Compare(heap[r], heap[largest]) > 0) largest = r;
            if (largest == i) return;
            (heap[i], heap[largest]) = (heap[largest], heap[i]);
            i = largest;
        }
    }

    public void SelectionBackward(Tensor grad, Tensor indices, int dim, Tensor dx)
    {
        switch (dx.DType)
        {
            case DType.F32: SelectionBackwardTyped<float>(grad, indices, dim, dx); break;
            case DType.F64: SelectionBackwardTyped<double>(grad, indices, dim, dx); break;
            default: throw Unsupported("SelectionBackward", dx.DType);
        }
    }

    private static void SelectionBackwardTyped<T>(Tensor grad, Tensor indices, int dim, Tensor dx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (outer, n, inner) = ReferenceBackend.ReduceGeometry(dx.Shape, dim);
        long m = grad.Shape[dim];
        T* pg = Ptr<T>(grad), pd = Ptr<T>(dx);
        long* pi = Ptr<long>(indices);
        if (outer * inner == 0) return;
        // Block (o, c0..c0+len) owns dx[o, :, c0..c0+len], so blocks never write the same element.
        ForColumnBlocks(outer, inner, n + m, (o, c0, len) =>
        {
            T* d = pd + o * n * inner + c0;
            for (long k = 0; k < n; k++) new Span<T>(d + k * inner, len).Clear();
            for (long j = 0; j < m; j++)
            {
                T* g = pg + (o * m + j) * inner + c0;
                long* idx = pi + (o * m + j) * inner + c0;
                for (int c = 0; c < len; c++)
                {
                    long k = idx[c];
                    if ((ulong)k >= (ulong)n)
                        throw new ArgumentOutOfRangeException(nameof(indices), $"SelectionBackward: index {k} outside dimension {dim} of size {n} in {dx.Shape}");
                    d[k * inner + c] += g[c];
                }
            }
        });
    }
}

/// <summary>An element being sorted and the position it came from.</summary>
internal readonly struct SortEntry<T>(T value, int index) where T : unmanaged
{
    public readonly T Value = value;
    public readonly int Index = index;
}

/// <summary>Ascending by value (NaN after every number, -0 equal to +0), then by original position.</summary>
internal readonly struct AscendingOrder<T> : IComparer<SortEntry<T>> where T : unmanaged, IFloatingPointIeee754<T>
{
    public int Compare(SortEntry<T> a, SortEntry<T> b)
    {
        int c = SortKeys.Compare(a.Value, b.Value);
        return c != 0 ? c : a.Index.CompareTo(b.Index);
    }
}

/// <summary>Descending by value (NaN first), then by original position, so equal values stay in order.</summary>
internal readonly struct DescendingOrder<T> : IComparer<SortEntry<T>> where T : unmanaged, IFloatingPointIeee754<T>
{
    public int Compare(SortEntry<T> a, SortEntry<T> b)
    {
        int c = SortKeys.Compare(b.Value, a.Value);
        return c != 0 ? c : a.Index.CompareTo(b.Index);
    }
}

internal static class SortKeys
{
    /// <summary>Numeric order with NaN above every number and all NaNs equal.</summary>
    public static int Compare<T>(T a, T b) where T : IFloatingPointIeee754<T>
    {
        if (a < b) return -1;
        if (a > b) return 1;
        if (a == b) return 0;
        bool na = T.IsNaN(a), nb = T.IsNaN(b);
        return na == nb ? 0 : na ? 1 : -1;
    }
}
