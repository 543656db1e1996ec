using ILGPU;
using ILGPU.Runtime;
using PeftEngine.Gpu.Kernels;

namespace PeftEngine.Gpu;

public sealed partial class GpuBackend
{
    public void Copy(Tensor src, Tensor dst)
    {
        if (src.Shape != dst.Shape) throw new ArgumentException($"Copy: shapes {src.Shape} and {dst.Shape} differ");
        if (src.DType != dst.DType) throw new ArgumentException($"Copy: dtypes {src.DType.Name()} and {dst.DType.Name()} differ; use Cast");
        if (src.Numel == 0) return;
        switch (src.DType.SizeOf())
        {
            case 1: CopyAs<byte>(src, dst); break;
            case 2: CopyAs<ushort>(src, dst); break;
            case 4: CopyAs<uint>(src, dst); break;
            default: CopyAs<ulong>(src, dst); break;
        }
    }

    private void CopyAs<T>(Tensor src, Tensor dst) where T : unmanaged
    {
        var k = Kernel("copy", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, Strided, ArrayView<T>, Strided, long>(CopyKernels.Copy));
        k(Linear(src.Numel), View<T>(src), Strided.Of(src, "Copy"), View<T>(dst), Strided.Of(dst, "Copy"), src.Numel);
    }

    public void Cast(Tensor src, Tensor dst)
    {
        if (src.Shape != dst.Shape) throw new ArgumentException($"Cast: shapes {src.Shape} and {dst.Shape} differ");
        if (src.DType == dst.DType) { Copy(src, dst); return; }
        if (src.Numel == 0) return;
        var k = Kernel("cast", typeof(byte), a => a.LoadStreamKernel<ArrayView<byte>, Strided, int, ArrayView<byte>, Strided, int, long>(CopyKernels.Cast));
        k(Linear(src.Numel), View<byte>(src), Strided.Of(src, "Cast"), (int)src.DType, View<byte>(dst), Strided.Of(dst, "Cast"), (int)dst.DType, src.Numel);
    }

    public void Fill(Tensor dst, double value)
    {
        if (dst.Numel == 0) return;
        switch (dst.DType)
        {
            case DType.F32: FillAs(dst, (float)value); break;
            case DType.F64: FillAs(dst, value); break;
            case DType.F16: FillAs(dst, BitConverter.HalfToUInt16Bits((System.Half)value)); break;
            case DType.BF16: FillAs(dst, BFloat16.FromSingle((float)value).Bits); break;
            case DType.I32: FillAs(dst, checked((int)value)); break;
            case DType.I64: FillAs(dst, (long)value); break;
            case DType.U8: FillAs(dst, checked((byte)value)); break;
            default: throw NotOnGpu("Fill", $"dtype {dst.DType.Name()}");
        }
    }

    private void FillAs<T>(Tensor dst, T value) where T : unmanaged
    {
        var k = Kernel("fill", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, Strided, long, T>(CopyKernels.Fill));
        k(Linear(dst.Numel), View<T>(dst), Strided.Of(dst, "Fill"), dst.Numel, value);
    }
}
