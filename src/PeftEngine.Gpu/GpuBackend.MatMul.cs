using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using PeftEngine.Gpu.Kernels;

namespace PeftEngine.Gpu;

public sealed partial class GpuBackend
{
    public void Gemm(Tensor a, Tensor b, Tensor c, bool transA, bool transB, double alpha = 1, double beta = 0, Tensor? bias = null)
    {
        RequireCompute(c, "Gemm");
        RequireContiguous(c, "Gemm");
        // A 16-bit operand (bf16/f16 weight times f32 activations) is widened into a temporary f32 copy first.
        Tensor? wideA = a.DType == c.DType ? null : Widen(a, c.DType), wideB = b.DType == c.DType ? null : Widen(b, c.DType);
        try
        {
            var aa = wideA ?? a;
            var bb = wideB ?? b;
            if (c.DType == DType.F32) GemmT<float, F32>(aa, bb, c, transA, transB, alpha, beta, bias);
            else GemmT<double, F64>(aa, bb, c, transA, transB, alpha, beta, bias);
        }
        finally
        {
            wideA?.Dispose();
            wideB?.Dispose();
        }
    }

    private Tensor Widen(Tensor x, DType to)
    {
        if (to != DType.F32 || x.DType is not (DType.BF16 or DType.F16))
            throw new ArgumentException($"Gemm: operand dtype {x.DType.Name()} does not go with an output of {to.Name()}");
        var w = Tensor.Empty(x.Shape, to, Device);
        Cast(x, w);
        return w;
    }

    private void GemmT<T, TR>(Tensor a, Tensor b, Tensor c, bool transA, bool transB, double alpha, double beta, Tensor? bias)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        int batch = c.Shape[0], m = c.Shape[1], n = c.Shape[2];
        int k = transA ? a.Shape[1] : a.Shape[2];
        if (c.Numel == 0) return;
        var al = Layout(a, transA);
        var bl = Layout(b, transB);
        // a square group of tx × tx threads (the kernel maps thread t to row t / tx and column t % tx)
        int tx = (int)Math.Sqrt(GroupSize), threads = tx * tx;
        int tileM = tx * GemmKernel.Block, tileN = tx * GemmKernel.Block;
        long tiles = (long)batch * ((m + tileM - 1) / tileM) * ((n + tileN - 1) / tileN);
        var kern = Kernel("gemm", typeof(T), acc => acc.LoadStreamKernel<ArrayView<T>, MatrixLayout, ArrayView<T>, MatrixLayout, ArrayView<T>,
            ArrayView<T>, int, int, int, int, int, T, T, int>(GemmKernel.Gemm));
        TR r = default;
        var config = new KernelConfig((int)Math.Clamp(tiles, 1, MaxGroups * 4L), threads);
        kern(config, View<T>(a), al, View<T>(b), bl, Data<T>(c), Data<T>(bias, c), bias is null ? 0 : 1,
            batch, m, n, k, r.From(alpha), r.From(beta), tx);
    }

    /// <summary>op(x) as (batch, rows, cols) strides: the transpose swaps the last two.</summary>
    private static MatrixLayout Layout(Tensor x, bool trans)
    {
        var s = x.Strides;
        long batch = x.Shape[0] == 1 ? 0 : s[0];
        return trans
            ? new MatrixLayout { Offset = x.Offset, Batch = batch, Row = s[2], Col = s[1] }
            : new MatrixLayout { Offset = x.Offset, Batch = batch, Row = s[1], Col = s[2] };
    }
}
