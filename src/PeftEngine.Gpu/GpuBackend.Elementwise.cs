using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using PeftEngine.Gpu.Kernels;

namespace PeftEngine.Gpu;

public sealed partial class GpuBackend
{
    public void Unary(UnaryOp op, Tensor x, Tensor y, double alpha = 0, double beta = 0)
    {
        RequireCompute(x, $"Unary {op}");
        if (x.Numel == 0) return;
        if (x.DType == DType.F32) UnaryT<float, F32>(op, x, y, alpha, beta);
        else UnaryT<double, F64>(op, x, y, alpha, beta);
    }

    private void UnaryT<T, TR>(UnaryOp op, Tensor x, Tensor y, double alpha, double beta)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        var k = Kernel("unary", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, Strided, ArrayView<T>, Strided, long, int, T, T>(ElementwiseKernels.Unary<T, TR>));
        TR r = default;
        k(Linear(x.Numel), View<T>(x), Strided.Of(x, "Unary"), View<T>(y), Strided.Of(y, "Unary"), x.Numel, (int)op, r.From(alpha), r.From(beta));
    }

    public void UnaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx, double alpha = 0, double beta = 0)
    {
        RequireCompute(x, $"UnaryBackward {op}");
        if (x.Numel == 0) return;
        if (x.DType == DType.F32) UnaryBackwardT<float, F32>(op, x, dy, dx, alpha, beta);
        else UnaryBackwardT<double, F64>(op, x, dy, dx, alpha, beta);
    }

    private void UnaryBackwardT<T, TR>(UnaryOp op, Tensor x, Tensor dy, Tensor dx, double alpha, double beta)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        var k = Kernel("unaryBackward", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, Strided, ArrayView<T>, long, ArrayView<T>, long, long, int, T, T>(ElementwiseKernels.UnaryBackward<T, TR>));
        TR r = default;
        RequireContiguous(dy, "UnaryBackward");
        RequireContiguous(dx, "UnaryBackward");
        k(Linear(x.Numel), View<T>(x), Strided.Of(x, "UnaryBackward"), View<T>(dy), dy.Offset, View<T>(dx), dx.Offset, x.Numel, (int)op, r.From(alpha), r.From(beta));
    }

    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y)
    {
        RequireCompute(a, $"Binary {op}");
        RequireContiguous(y, "Binary");
        if (y.Numel == 0) return;
        if (a.DType == DType.F32) BinaryT<float>(op, a, b, y);
        else BinaryT<double>(op, a, b, y);
    }

    private void BinaryT<T>(BinaryOp op, Tensor a, Tensor b, Tensor y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var k = Kernel("binary", typeof(T), acc => acc.LoadStreamKernel<ArrayView<T>, Strided, ArrayView<T>, Strided, ArrayView<T>, long, long, int>(ElementwiseKernels.Binary));
        k(Linear(y.Numel), View<T>(a), Strided.Of(a, "Binary"), View<T>(b), Strided.Of(b, "Binary"), View<T>(y), y.Offset, y.Numel, (int)op);
    }

    public void BinaryBackward(BinaryOp op, Tensor a, Tensor b, Tensor dy, Tensor? da, Tensor? db)
    {
        RequireCompute(a, $"BinaryBackward {op}");
        RequireContiguous(dy, "BinaryBackward");
        if (dy.Numel == 0 || (da is null && db is null)) return;
        if (a.DType == DType.F32) BinaryBackwardT<float>(op, a, b, dy, da, db);
        else BinaryBackwardT<double>(op, a, b, dy, da, db);
    }

    private void BinaryBackwardT<T>(BinaryOp op, Tensor a, Tensor b, Tensor dy, Tensor? da, Tensor? db) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var k = Kernel("binaryBackward", typeof(T), acc => acc.LoadStreamKernel<ArrayView<T>, Strided, ArrayView<T>, Strided, ArrayView<T>, long,
            ArrayView<T>, long, int, ArrayView<T>, long, int, long, int>(ElementwiseKernels.BinaryBackward));
        if (da is not null) RequireContiguous(da, "BinaryBackward");
        if (db is not null) RequireContiguous(db, "BinaryBackward");
        // A missing output is replaced by dy's view and never written (its flag is 0).
        k(Linear(dy.Numel), View<T>(a), Strided.Of(a, "BinaryBackward"), View<T>(b), Strided.Of(b, "BinaryBackward"), View<T>(dy), dy.Offset,
            View<T>(da ?? dy), da?.Offset ?? 0, da is null ? 0 : 1, View<T>(db ?? dy), db?.Offset ?? 0, db is null ? 0 : 1, dy.Numel, (int)op);
    }

    public void Compare(CompareOp op, Tensor a, Tensor b, Tensor y)
    {
        RequireContiguous(y, "Compare");
        if (y.Numel == 0) return;
        switch (a.DType)
        {
            case DType.F32: CompareT<float>(op, a, b, y); break;
            case DType.F64: CompareT<double>(op, a, b, y); break;
            case DType.I32: CompareT<int>(op, a, b, y); break;
            case DType.I64: CompareT<long>(op, a, b, y); break;
            case DType.U8: CompareT<byte>(op, a, b, y); break;
            default: throw NotOnGpu("Compare", $"dtype {a.DType.Name()}");
        }
    }

    private void CompareT<T>(CompareOp op, Tensor a, Tensor b, Tensor y) where T : unmanaged, INumber<T>
    {
        var k = Kernel("compare", typeof(T), acc => acc.LoadStreamKernel<ArrayView<T>, Strided, ArrayView<T>, Strided, ArrayView<byte>, long, long, int>(ElementwiseKernels.Compare));
        k(Linear(y.Numel), View<T>(a), Strided.Of(a, "Compare"), View<T>(b), Strided.Of(b, "Compare"), View<byte>(y), y.Offset, y.Numel, (int)op);
    }

    public void Where(Tensor cond, Tensor a, Tensor b, Tensor y)
    {
        RequireContiguous(y, "Where");
        if (y.Numel == 0) return;
        switch (y.DType.SizeOf())
        {
            case 1: WhereT<byte>(cond, a, b, y); break;
            case 2: WhereT<ushort>(cond, a, b, y); break;
            case 4: WhereT<uint>(cond, a, b, y); break;
            default: WhereT<ulong>(cond, a, b, y); break;
        }
    }

    private void WhereT<T>(Tensor cond, Tensor a, Tensor b, Tensor y) where T : unmanaged
    {
        var k = Kernel("where", typeof(T), acc => acc.LoadStreamKernel<ArrayView<byte>, Strided, ArrayView<T>, Strided, ArrayView<T>, Strided, ArrayView<T>, long, long>(ElementwiseKernels.Where));
        k(Linear(y.Numel), View<byte>(cond), Strided.Of(cond, "Where"), View<T>(a), Strided.Of(a, "Where"), View<T>(b), Strided.Of(b, "Where"), View<T>(y), y.Offset, y.Numel);
    }

    public void MaskedFill(Tensor x, Tensor mask, double value, Tensor y)
    {
        RequireCompute(x, "MaskedFill");
        RequireContiguous(y, "MaskedFill");
        if (y.Numel == 0) return;
        if (x.DType == DType.F32) MaskedFillT(x, mask, (float)value, y);
        else MaskedFillT(x, mask, value, y);
    }

    private void MaskedFillT<T>(Tensor x, Tensor mask, T value, Tensor y) where T : unmanaged
    {
        var k = Kernel("maskedFill", typeof(T), acc => acc.LoadStreamKernel<ArrayView<T>, Strided, ArrayView<byte>, Strided, T, ArrayView<T>, long, long>(ElementwiseKernels.MaskedFill));
        k(Linear(y.Numel), View<T>(x), Strided.Of(x, "MaskedFill"), View<byte>(mask), Strided.Of(mask, "MaskedFill"), value, View<T>(y), y.Offset, y.Numel);
    }

    /// <summary>Throws when a kernel that assumes a contiguous tensor gets a strided one (a broken caller).</summary>
    internal static void RequireContiguous(Tensor t, string kernel)
    {
        if (!t.IsContiguous)
            throw new ArgumentException($"{kernel}: expected a contiguous tensor, got {t.Shape} with strides ({string.Join(", ", t.StridesArray())})");
    }
}
