using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using PeftEngine.Gpu.Kernels;

namespace PeftEngine.Gpu;

public sealed partial class GpuBackend
{
    private static (long Outer, long N, long Inner) Geometry(Shape shape, int dim)
    {
        long outer = 1, inner = 1;
        for (int d = 0; d < dim; d++) outer *= shape[d];
        for (int d = dim + 1; d < shape.Rank; d++) inner *= shape[d];
        return (outer, shape[dim], inner);
    }

    public void IndexSelect(Tensor x, int dim, Tensor index, Tensor y) => Select(x, dim, index, y, perElement: false);

    public void Gather(Tensor x, int dim, Tensor index, Tensor y) => Select(x, dim, index, y, perElement: true);

    private void Select(Tensor x, int dim, Tensor index, Tensor y, bool perElement)
    {
        if (y.Numel == 0) return;
        var (outer, n, inner) = Geometry(x.Shape, dim);
        long m = y.Shape[dim];
        switch (x.DType.SizeOf())
        {
            case 1: SelectT<byte>(x, index, y, perElement, outer, n, m, inner); break;
            case 2: SelectT<ushort>(x, index, y, perElement, outer, n, m, inner); break;
            case 4: SelectT<uint>(x, index, y, perElement, outer, n, m, inner); break;
            default: SelectT<ulong>(x, index, y, perElement, outer, n, m, inner); break;
        }
    }

    private void SelectT<T>(Tensor x, Tensor index, Tensor y, bool perElement, long outer, long n, long m, long inner) where T : unmanaged
    {
        var k = Kernel("select", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, long, ArrayView<long>, long, int, ArrayView<T>, long, long, long, long, long>(IndexKernels.Select));
        k(Linear(y.Numel), View<T>(x), x.Offset, View<long>(index), index.Offset, perElement ? 1 : 0, View<T>(y), y.Offset, outer, n, m, inner);
    }

    public void IndexAdd(Tensor y, int dim, Tensor index, Tensor src) => Accumulate(y, dim, index, src, perElement: false, zeroFirst: false, "IndexAdd");

    public void ScatterAdd(Tensor y, int dim, Tensor index, Tensor src) => Accumulate(y, dim, index, src, perElement: true, zeroFirst: false, "ScatterAdd");

    private void Accumulate(Tensor y, int dim, Tensor index, Tensor src, bool perElement, bool zeroFirst, string op)
    {
        RequireCompute(y, op);
        var (outer, n, inner) = Geometry(y.Shape, dim);
        long m = src.Shape[dim];
        if (outer * inner == 0) return;
        if (y.DType == DType.F32) AccumulateT<float>(y, index, src, perElement, zeroFirst, outer, n, m, inner);
        else AccumulateT<double>(y, index, src, perElement, zeroFirst, outer, n, m, inner);
    }

    private void AccumulateT<T>(Tensor y, Tensor index, Tensor src, bool perElement, bool zeroFirst, long outer, long n, long m, long inner)
        where T : unmanaged, INumber<T>
    {
        var k = Kernel("accumulate", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, long, ArrayView<long>, long, int, ArrayView<T>, long, long, long, long, long, int>(IndexKernels.Accumulate));
        k(Linear(outer * inner), View<T>(y), y.Offset, View<long>(index), index.Offset, perElement ? 1 : 0, View<T>(src), src.Offset, outer, n, m, inner, zeroFirst ? 1 : 0);
    }

    public void Embedding(Tensor weight, Tensor ids, Tensor y)
    {
        long v = weight.Shape[0];
        foreach (long id in ReadLongs(ids))
            if (id < 0 || id >= v)
                throw new ArgumentOutOfRangeException(nameof(ids), $"Embedding: id {id} is outside [0, {v}) for a weight of shape {weight.Shape}");
        // y (N, D) = weight (V, D) rows picked by ids: an index-select along dimension 0.
        Select(weight, 0, ids, y, perElement: false);
    }

    public void EmbeddingBackward(Tensor ids, Tensor dy, Tensor dweight)
    {
        // dweight (V, D) = 0, then dweight[ids[i], :] += dy[i, :] in order of i: an index-add along dimension 0.
        RequireCompute(dweight, "EmbeddingBackward");
        long d = dweight.Shape[1];
        if (dweight.DType == DType.F32) AccumulateT<float>(dweight, ids, dy, false, true, 1, dweight.Shape[0], ids.Numel, d);
        else AccumulateT<double>(dweight, ids, dy, false, true, 1, dweight.Shape[0], ids.Numel, d);
    }

    public void Triangle(Tensor x, Tensor y, int diagonal, bool upper)
    {
        if (y.Numel == 0) return;
        switch (x.DType.SizeOf())
        {
            case 1: TriangleT<byte>(x, y, diagonal, upper); break;
            case 2: TriangleT<ushort>(x, y, diagonal, upper); break;
            case 4: TriangleT<uint>(x, y, diagonal, upper); break;
            default: TriangleT<ulong>(x, y, diagonal, upper); break;
        }
    }

    private void TriangleT<T>(Tensor x, Tensor y, int diagonal, bool upper) where T : unmanaged
    {
        var k = Kernel("triangle", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, long, ArrayView<T>, long, long, long, long, long, int>(IndexKernels.Triangle));
        k(Linear(y.Numel), View<T>(x), x.Offset, View<T>(y), y.Offset, y.Numel, x.Shape[-2], x.Shape[-1], diagonal, upper ? 1 : 0);
    }

    public void Arange(Tensor y, double start, double step)
    {
        if (y.Numel == 0) return;
        if (y.DType == DType.I64 && Math.Floor(start) == start && Math.Floor(step) == step)
        {
            var k = Kernel("arangeLong", typeof(long), a => a.LoadStreamKernel<ArrayView<long>, long, long, long, long>(IndexKernels.ArangeLong));
            k(Linear(y.Numel), View<long>(y), y.Offset, y.Numel, (long)start, (long)step);
            return;
        }
        var kd = Kernel("arange", typeof(byte), a => a.LoadStreamKernel<ArrayView<byte>, long, int, long, double, double>(IndexKernels.Arange));
        kd(Linear(y.Numel), View<byte>(y), y.Offset, (int)y.DType, y.Numel, start, step);
    }

    public void Rotary(Tensor x, Tensor cos, Tensor sin, int positionOffset, RopeStyle style, bool inverse, Tensor y)
    {
        RequireCompute(x, "Rotary");
        if (x.Numel == 0) return;
        if (x.DType == DType.F32) RotaryT<float>(x, cos, sin, positionOffset, style, inverse, y);
        else RotaryT<double>(x, cos, sin, positionOffset, style, inverse, y);
    }

    private void RotaryT<T>(Tensor x, Tensor cos, Tensor sin, int positionOffset, RopeStyle style, bool inverse, Tensor y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var k = Kernel("rotary", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
            long, long, long, long, long, int, int>(IndexKernels.Rotary));
        k(Linear(x.Numel), Data<T>(x), Data<T>(cos), Data<T>(sin), Data<T>(y),
            x.Numel, x.Shape[-2], x.Shape[-1], cos.Shape[1], positionOffset, style == RopeStyle.Interleaved ? 1 : 0, inverse ? 1 : 0);
    }
}
