using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using PeftEngine.Gpu.Kernels;

namespace PeftEngine.Gpu;

public sealed partial class GpuBackend
{
    public void Reduce(ReduceOp op, Tensor x, int dim, Tensor y, Tensor? indices = null)
    {
        RequireCompute(x, $"Reduce {op}");
        RequireContiguous(x, "Reduce");
        long outer = 1, inner = 1;
        for (int d = 0; d < dim; d++) outer *= x.Shape[d];
        for (int d = dim + 1; d < x.Rank; d++) inner *= x.Shape[d];
        long n = x.Shape[dim];
        if (outer * inner == 0) return;
        if (x.DType == DType.F32) ReduceT<float, F32>(op, x, y, indices, outer, n, inner);
        else ReduceT<double, F64>(op, x, y, indices, outer, n, inner);
    }

    private void ReduceT<T, TR>(ReduceOp op, Tensor x, Tensor y, Tensor? indices, long outer, long n, long inner)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        var idx = indices is null ? View<long>(y) : View<long>(indices);
        long idxOff = indices?.Offset ?? 0;
        int want = indices is null ? 0 : 1;
        if (inner == 1)
        {
            var k = Kernel("reduceRows", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, long, ArrayView<T>, long, ArrayView<long>, long, int, long, long, int>(ReduceKernels.Rows<T, TR>));
            k(PerRow(outer), View<T>(x), x.Offset, View<T>(y), y.Offset, idx, idxOff, want, outer, n, (int)op);
        }
        else
        {
            var k = Kernel("reduceColumns", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, long, ArrayView<T>, long, ArrayView<long>, long, int, long, long, long, int>(ReduceKernels.Columns<T, TR>));
            k(Linear(outer * inner), View<T>(x), x.Offset, View<T>(y), y.Offset, idx, idxOff, want, outer, n, inner, (int)op);
        }
    }

    public void Scan(ScanOp op, Tensor x, int dim, Tensor y, bool reverse = false, bool exclusive = false)
    {
        RequireCompute(x, $"Scan {op}");
        long outer = 1, inner = 1;
        for (int d = 0; d < dim; d++) outer *= x.Shape[d];
        for (int d = dim + 1; d < x.Rank; d++) inner *= x.Shape[d];
        if (outer * inner == 0 || x.Shape[dim] == 0) return;
        if (x.DType == DType.F32) ScanT<float>(op, x, y, outer, x.Shape[dim], inner, reverse, exclusive);
        else ScanT<double>(op, x, y, outer, x.Shape[dim], inner, reverse, exclusive);
    }

    private void ScanT<T>(ScanOp op, Tensor x, Tensor y, long outer, long n, long inner, bool reverse, bool exclusive) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var k = Kernel("scan", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, long, ArrayView<T>, long, long, long, long, int, int, int>(ReduceKernels.Scan));
        k(Linear(outer * inner), View<T>(x), x.Offset, View<T>(y), y.Offset, outer, n, inner, op == ScanOp.Sum ? 0 : 1, reverse ? 1 : 0, exclusive ? 1 : 0);
    }

    public void Sort(Tensor x, int dim, bool descending, Tensor values, Tensor indices) => SortedPrefix(x, dim, x.Shape[dim], descending, values, indices, "Sort");

    public void TopK(Tensor x, int dim, int k, bool largest, Tensor values, Tensor indices) => SortedPrefix(x, dim, k, largest, values, indices, "TopK");

    private void SortedPrefix(Tensor x, int dim, int k, bool descending, Tensor values, Tensor indices, string op)
    {
        RequireCompute(x, op);
        RequireContiguous(x, op);
        long outer = 1, inner = 1;
        for (int d = 0; d < dim; d++) outer *= x.Shape[d];
        for (int d = dim + 1; d < x.Rank; d++) inner *= x.Shape[d];
        if (x.Numel == 0 || k == 0) return;
        if (x.DType == DType.F32) SortT<float>(x, values, indices, outer, x.Shape[dim], inner, k, descending);
        else SortT<double>(x, values, indices, outer, x.Shape[dim], inner, k, descending);
    }

    private void SortT<T>(Tensor x, Tensor values, Tensor indices, long outer, long n, long inner, long k, bool descending) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // scratch: two halves of keys and of positions, each the size of x
        using var keys = Tensor.Empty(new Shape(checked((int)(2 * x.Numel))), x.DType, Device);
        using var pos = Tensor.Empty(new Shape(checked((int)(2 * x.Numel))), DType.I64, Device);
        var kern = Kernel("sortColumns", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, long, ArrayView<T>, ArrayView<long>, ArrayView<T>, ArrayView<long>,
            long, long, long, long, int>(SortKernels.SortColumns));
        kern(Linear(outer * inner), View<T>(x), x.Offset, Data<T>(keys), Data<long>(pos), Data<T>(values), Data<long>(indices), outer, n, inner, k, descending ? 1 : 0);
    }
}

