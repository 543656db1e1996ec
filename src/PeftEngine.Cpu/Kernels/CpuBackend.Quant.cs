using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>Up to this many rows of x, a 4-bit product expands W row by row and reuses each expanded row for
    /// every row of x (memory-bound, like generation); above it, W is expanded panel by panel into a GEMM.</summary>
    internal const int Quant4BitFusedMaxRows = 8;

    /// <summary>Elements of W expanded at once on the GEMM path (4 MB of F32).</summary>
    private const long Quant4BitPanelElements = 1 << 20;

    public void Dequantize4Bit(PackedWeight4Bit w, Tensor output)
    {
        Quant4BitChecks.Dequantize(w, output);
        var decoder = new Quant4BitDecoder(w);
        float* dst = output.HostStorage.Ptr<float>(output.Offset);
        const int chunk = 4096;
        long count = (long)w.Rows * w.Cols;
        CpuParallel.For((count + chunk - 1) / chunk, chunk, (c0, c1) =>
        {
            for (long c = c0; c < c1; c++)
            {
                long start = c * chunk;
                decoder.Decode(start, (int)Math.Min(chunk, count - start), dst + start);
            }
        });
    }

    public void MatMul4Bit(Tensor x, PackedWeight4Bit w, Tensor y, bool transW, Tensor? bias = null)
    {
        var (m, k, n) = Quant4BitChecks.MatMul(x, w, y, transW, bias);
        if (m == 0) return;
        float* px = x.HostStorage.Ptr<float>(x.Offset), py = y.HostStorage.Ptr<float>(y.Offset);
        float* pb = bias is null ? null : bias.HostStorage.Ptr<float>(bias.Offset);
        var decoder = new Quant4BitDecoder(w);
        if (m <= Quant4BitFusedMaxRows)
        {
            if (transW) Quant4BitProducts.RowsTimesWeightT(decoder, px, py, pb, m, w.Rows, w.Cols);
            else Quant4BitProducts.RowsTimesWeight(decoder, px, py, m, w.Rows, w.Cols);
        }
        else Quant4BitProducts.Panels(decoder, px, py, pb, m, w.Rows, w.Cols, transW, Quant4BitPanelElements);
    }
}
