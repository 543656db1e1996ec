using ILGPU;
using ILGPU.Runtime;
using PeftEngine.Gpu.Kernels;

namespace PeftEngine.Gpu;

public sealed partial class GpuBackend
{
    /// <summary>Up to this many rows of x, a 4-bit product runs the matrix-vector kernels (generation, batch 1);
    /// above it, the tiled kernel that decodes W into shared memory.</summary>
    internal const int Quant4BitMatVecMaxRows = Quant4BitKernels.MatVecMaxRows;

    public void Dequantize4Bit(PackedWeight4Bit w, Tensor output)
    {
        Quant4BitChecks.Dequantize(w, output);
        var packed = PackedView(w, "Dequantize4Bit");
        long count = (long)w.Rows * w.Cols;
        var kern = Kernel("dequantize4Bit", typeof(float), a => a.LoadStreamKernel<Packed4Bit, ArrayView<float>, long>(Quant4BitKernels.Dequantize));
        kern(Linear((count + 1) / 2), packed, Data<float>(output), count);
    }

    public void MatMul4Bit(Tensor x, PackedWeight4Bit w, Tensor y, bool transW, Tensor? bias = null)
    {
        var (m, _, n) = Quant4BitChecks.MatMul(x, w, y, transW, bias);
        var packed = PackedView(w, "MatMul4Bit");
        if (m == 0) return;
        var xs = Data<float>(x);
        var ys = Data<float>(y);
        var bs = Data<float>(bias, y);
        int hasBias = bias is null ? 0 : 1;
        if (m <= Quant4BitMatVecMaxRows && transW)
        {
            var kern = Kernel("matVec4BitT", typeof(float), a => a.LoadStreamKernel<Packed4Bit, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(
                Quant4BitKernels.MatVecTransposed));
            kern(PerRow(n), packed, xs, ys, bs, hasBias, m);
        }
        else if (m <= Quant4BitMatVecMaxRows)
        {
            var kern = Kernel("matVec4Bit", typeof(float), a => a.LoadStreamKernel<Packed4Bit, ArrayView<float>, ArrayView<float>, int>(Quant4BitKernels.MatVec));
            kern(Linear(n), packed, xs, ys, m);
        }
        else
        {
            // a square group of tx × tx threads, each computing a 4 × 4 block of y
            int tx = (int)Math.Sqrt(GroupSize), tile = tx * Quant4BitKernels.Block;
            long tiles = (long)((m + tile - 1) / tile) * ((n + tile - 1) / tile);
            var kern = Kernel("gemm4Bit", typeof(float), a => a.LoadStreamKernel<Packed4Bit, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int>(
                Quant4BitKernels.Gemm));
            kern(new KernelConfig((int)Math.Clamp(tiles, 1, MaxGroups * 4L), tx * tx), packed, xs, ys, bs, hasBias, m, transW ? 1 : 0, tx);
        }
    }

    /// <summary>The kernel argument for a 4-bit weight whose tensors are on this device (unused scale views point
    /// at the codebook, which the kernels then never read).</summary>
    private Packed4Bit PackedView(PackedWeight4Bit w, string kernel)
    {
        if (w.Device != Device)
            throw new ArgumentException($"{kernel}: the 4-bit weight is on {w.Device}, not on {Device}; move it with PackedWeight4Bit.To({Device}) (Module.To moves a Linear4Bit's weight)");
        var code = w.Codebook;
        return new Packed4Bit
        {
            Packed = Data<byte>(w.Packed),
            Codebook = Data<float>(code),
            Absmax = Data<float>(w.Absmax, code),
            QuantizedAbsmax = Data<byte>(w.QuantizedAbsmax, w.Packed),
            NestedAbsmax = Data<float>(w.NestedAbsmax, code),
            NestedCode = Data<float>(w.NestedCode, code),
            Rows = w.Rows,
            Cols = w.Cols,
            BlockSize = w.BlockSize,
            NestedBlockSize = Math.Max(1, w.NestedBlockSize),
            DoubleQuant = w.IsDoubleQuantized ? 1 : 0,
            NestedOffset = w.NestedOffset,
        };
    }
}
