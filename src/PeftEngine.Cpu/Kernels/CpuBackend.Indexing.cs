using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace PeftEngine.Cpu;

/// <summary>
/// Index kernels. Copies (index-select, gather, triangles) move raw elements of any dtype through an
/// unsigned integer of the same width. Accumulations (index-add, scatter-add) are split so that every
/// destination element belongs to exactly one work item, which adds its contributions in increasing source
/// order: no atomics, no races, and the same bits for any thread count.
/// </summary>
public sealed unsafe partial class CpuBackend
{
    public void IndexSelect(Tensor x, int dim, Tensor index, Tensor y)
    {
        var (outer, n, inner) = ReferenceBackend.ReduceGeometry(x.Shape, dim);
        switch (x.DType.SizeOf())
        {
            case 1: IndexSelectRows(Ptr<byte>(x), Ptr<long>(index), Ptr<byte>(y), outer, n, index.Numel, inner); break;
            case 2: IndexSelectRows(Ptr<ushort>(x), Ptr<long>(index), Ptr<ushort>(y), outer, n, index.Numel, inner); break;
            case 4: IndexSelectRows(Ptr<uint>(x), Ptr<long>(index), Ptr<uint>(y), outer, n, index.Numel, inner); break;
            case 8: IndexSelectRows(Ptr<ulong>(x), Ptr<long>(index), Ptr<ulong>(y), outer, n, index.Numel, inner); break;
            default: throw Unsupported("IndexSelect", x.DType);
        }
    }

    /// <summary>One work item per output row (o, j): a block copy of inner elements (the embedding lookup).</summary>
    private static void IndexSelectRows<E>(E* px, long* idx, E* py, long outer, long n, long m, long inner) where E : unmanaged
    {
        long rowBytes = inner * sizeof(E);
        CpuParallel.For(outer * m, inner, (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                long o = r / m, j = r % m;
                E* src = px + (o * n + idx[j]) * inner;
                E* dst = py + r * inner;
                if (inner == 1) *dst = *src;
                else Buffer.MemoryCopy(src, dst, rowBytes, rowBytes);
            }
        });
    }

    public void IndexAdd(Tensor y, int dim, Tensor index, Tensor src)
    {
        switch (y.DType)
        {
            case DType.F32: IndexAddRows<float>(y, dim, index, src); break;
            case DType.F64: IndexAddRows<double>(y, dim, index, src); break;
            default: throw Unsupported("IndexAdd", y.DType);
        }
    }

    /// <summary>
    /// Sorts the source rows by destination (key = index * m + j keeps equal destinations in increasing j),
    /// then gives each (o, destination row) group to one work item, which adds its source rows in order with
    /// SIMD. Rows no index points at are never touched.
    /// </summary>
    private static void IndexAddRows<T>(Tensor y, int dim, Tensor index, Tensor src) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (outer, n, inner) = ReferenceBackend.ReduceGeometry(y.Shape, dim);
        long m = index.Numel;
        if (m == 0 || outer == 0 || inner == 0) return;
        long* idx = Ptr<long>(index);
        var keys = new long[m];
        for (long j = 0; j < m; j++) keys[j] = idx[j] * m + j;
        Array.Sort(keys);
        // groupStart[g]..groupStart[g+1] are the sorted positions that share one destination row.
        var groupStart = new List<long> { 0 };
        for (long p = 1; p < m; p++)
            if (keys[p] / m != keys[p - 1] / m) groupStart.Add(p);
        groupStart.Add(m);
        long groups = groupStart.Count - 1;
        var starts = groupStart.ToArray();

        T* py = Ptr<T>(y), ps = Ptr<T>(src);
        int len = (int)inner;
        long workPerGroup = (m * inner + groups - 1) / groups;  // source elements per group, on average
        CpuParallel.For(outer * groups, workPerGroup, (w0, w1) =>
        {
            for (long w = w0; w < w1; w++)
            {
                long o = w / groups, g = w % groups;
                long k = keys[starts[g]] / m;
                var dst = new Span<T>(py + (o * n + k) * inner, len);
                for (long p = starts[g]; p < starts[g + 1]; p++)
                {
                    long j = keys[p] % m;
                    TensorPrimitives.Add(dst, new ReadOnlySpan<T>(ps + (o * m + j) * inner, len), dst);
                }
            }
        });
    }

    public void Gather(Tensor x, int dim, Tensor index, Tensor y)
    {
        var (outer, n, inner) = ReferenceBackend.ReduceGeometry(x.Shape, dim);
        long m = index.Shape[dim];
        switch (x.DType.SizeOf())
        {
            case 1: GatherRows(Ptr<byte>(x), Ptr<long>(index), Ptr<byte>(y), outer, n, m, inner); break;
            case 2: GatherRows(Ptr<ushort>(x), Ptr<long>(index), Ptr<ushort>(y), outer, n, m, inner); break;
            case 4: GatherRows(Ptr<uint>(x), Ptr<long>(index), Ptr<uint>(y), outer, n, m, inner); break;
            case 8: GatherRows(Ptr<ulong>(x), Ptr<long>(index), Ptr<ulong>(y), outer, n, m, inner); break;
            default: throw Unsupported("Gather", x.DType);
        }
    }

    /// <summary>One work item per output row (o, j); each element picks its own source row.</summary>
    private static void GatherRows<E>(E* px, long* idx, E* py, long outer, long n, long m, long inner) where E : unmanaged
    {
        CpuParallel.For(outer * m, inner, (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                long o = r / m;
                E* src = px + o * n * inner;
                E* dst = py + r * inner;
                long* ir = idx + r * inner;
                for (long i = 0; i < inner; i++) dst[i] = src[ir[i] * inner + i];
            }
        });
    }

    public void ScatterAdd(Tensor y, int dim, Tensor index, Tensor src)
    {
        switch (y.DType)
        {
            case DType.F32: ScatterAddColumns<float>(y, dim, index, src); break;
            case DType.F64: ScatterAddColumns<double>(y, dim, index, src); break;
            default: throw Unsupported("ScatterAdd", y.DType);
        }
    }

    /// <summary>Columns per scatter-add work item.</summary>
    private const int ScatterBlock = 64;

    /// <summary>
    /// Source element (o, j, i) lands in destination (o, index, i): the same o and i. So the work items are
    /// (o, block of columns i); each walks j = 0..m-1 in order over its columns, and no two items ever write
    /// the same destination element.
    /// </summary>
    private static void ScatterAddColumns<T>(Tensor y, int dim, Tensor index, Tensor src) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (outer, n, inner) = ReferenceBackend.ReduceGeometry(y.Shape, dim);
        long m = index.Shape[dim];
        if (m == 0 || outer == 0 || inner == 0) return;
        T* py = Ptr<T>(y), ps = Ptr<T>(src);
        long* idx = Ptr<long>(index);
        long blocks = (inner + ScatterBlock - 1) / ScatterBlock;
        CpuParallel.For(outer * blocks, m * Math.Min(inner, ScatterBlock), (w0, w1) =>
        {
            for (long w = w0; w < w1; w++)
            {
                long o = w / blocks, i0 = w % blocks * ScatterBlock, i1 = Math.Min(inner, i0 + ScatterBlock);
                T* dst = py + o * n * inner;
                for (long j = 0; j < m; j++)
                {
                    long row = (o * m + j) * inner;
                    for (long i = i0; i < i1; i++) dst[idx[row + i] * inner + i] += ps[row + i];
                }
            }
        });
    }

    public void MaskedFill(Tensor x, Tensor mask, double value, Tensor y)
    {
        switch (y.DType)
        {
            case DType.F32: MaskedFillRows(x, mask, (float)value, y); break;
            case DType.F64: MaskedFillRows(x, mask, value, y); break;
            default: throw Unsupported("MaskedFill", y.DType);
        }
    }

    /// <summary>
    /// Per row: when x and the mask are contiguous, copy the x row in one block, then read the mask eight bytes
    /// at a time: an all-zero word leaves the eight values, an all-set word fills them, a mixed word goes byte by
    /// byte. Masks are mostly long runs (padding, causal), so most words take one of the first two paths.
    /// </summary>
    private static void MaskedFillRows<T>(Tensor x, Tensor mask, T value, Tensor y) where T : unmanaged
    {
        var plan = RowLayout.Of(y, x, mask);
        T* py = y.HostStorage.Ptr<T>(), px = x.HostStorage.Ptr<T>();
        byte* pm = mask.HostStorage.Ptr<byte>();
        long sy = plan.InnerStrides[0], sx = plan.InnerStrides[1], sm = plan.InnerStrides[2];
        int len = plan.RowLength;
        CpuParallel.For(plan.RowCount, len, (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                T* yr = py + plan.Offset(0, r), xr = px + plan.Offset(1, r);
                byte* mr = pm + plan.Offset(2, r);
                if (sy == 1 && sm == 0)
                {
                    // One mask byte for the whole row.
                    if (*mr != 0) new Span<T>(yr, len).Fill(value);
                    else CopyStrided(xr, sx, yr, len);
                }
                else if (sy == 1 && sx == 1 && sm == 1)
                    SelectRow(xr, mr, value, yr, len);
                else
                    for (int i = 0; i < len; i++) yr[i * sy] = mr[i * sm] != 0 ? value : xr[i * sx];
            }
        });
    }

    private static void CopyStrided<T>(T* x, long sx, T* y, int len) where T : unmanaged
    {
        if (sx == 1) new ReadOnlySpan<T>(x, len).CopyTo(new Span<T>(y, len));
        else for (int i = 0; i < len; i++) y[i] = x[i * sx];
    }

    private static void SelectRow<T>(T* x, byte* m, T value, T* y, int len) where T : unmanaged
    {
        new ReadOnlySpan<T>(x, len).CopyTo(new Span<T>(y, len));
        const ulong allSet = 0x0101_0101_0101_0101;
        int i = 0;
        for (; i + 8 <= len; i += 8)
        {
            ulong word = Unsafe.ReadUnaligned<ulong>(m + i);
            if (word == 0) continue;
            if (word == allSet) { new Span<T>(y + i, 8).Fill(value); continue; }
            for (int k = i; k < i + 8; k++) if (m[k] != 0) y[k] = value;
        }
        for (; i < len; i++) if (m[i] != 0) y[i] = value;
    }

    public void Triangle(Tensor x, Tensor y, int diagonal, bool upper)
    {
        int rows = x.Shape[-2], cols = x.Shape[-1];
        int size = x.DType.SizeOf();
        byte* px = BytePtr(x), py = BytePtr(y);
        long rowCount = x.Numel / Math.Max(1, cols);
        CpuParallel.For(rowCount, cols, (r0, r1) =>
        {
            for (long rr = r0; rr < r1; rr++)
            {
                long r = rr % rows;
                // Kept columns [a, b); the rest become zero bits (0 in every dtype).
                long a = upper ? Math.Clamp(r + diagonal, 0, cols) : 0;
                long b = upper ? cols : Math.Clamp(r + diagonal + 1, 0, cols);
                byte* xr = px + rr * cols * size, yr = py + rr * cols * size;
                new Span<byte>(yr, (int)(a * size)).Clear();
                if (b > a) Buffer.MemoryCopy(xr + a * size, yr + a * size, (b - a) * size, (b - a) * size);
                if (b < cols) new Span<byte>(yr + b * size, (int)((cols - b) * size)).Clear();
            }
        });
    }

    /// <summary>The address of the first element of t's view, as bytes.</summary>
    private static byte* BytePtr(Tensor t) => (byte*)t.HostStorage.Pointer + t.Offset * t.DType.SizeOf();

    public void Arange(Tensor y, double start, double step)
    {
        long n = y.Numel;
        switch (y.DType)
        {
            case DType.F32:
            {
                float* p = Ptr<float>(y);
                CpuParallel.For(n, 1, (i0, i1) => { for (long i = i0; i < i1; i++) p[i] = (float)(start + i * step); });
                break;
            }
            case DType.F64:
            {
                double* p = Ptr<double>(y);
                CpuParallel.For(n, 1, (i0, i1) => { for (long i = i0; i < i1; i++) p[i] = start + i * step; });
                break;
            }
            case DType.I64:
            {
                long* p = Ptr<long>(y);
                bool integral = double.IsInteger(start) && double.IsInteger(step);
                long s0 = (long)start, s1 = (long)step;
                CpuParallel.For(n, 1, (i0, i1) =>
                {
                    for (long i = i0; i < i1; i++) p[i] = integral ? s0 + i * s1 : (long)(start + i * step);
                });
                break;
            }
            default: throw Unsupported("Arange", y.DType);
        }
    }
}
