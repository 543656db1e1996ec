namespace PeftEngine.Cpu;

public sealed partial class ReferenceBackend
{
    /// <summary>The definition of 4-bit dequantization, one element at a time:
    /// w[i] = codebook[nibble i] · scale(i / blockSize), the first element of each byte in its high nibble.</summary>
    public void Dequantize4Bit(PackedWeight4Bit w, Tensor output)
    {
        Quant4BitChecks.Dequantize(w, output);
        long count = (long)w.Rows * w.Cols;
        for (long i = 0; i < count; i++) WriteDouble(output, output.Offset + i, Weight(w, i));
    }

    /// <summary>The definition of the 4-bit product: y = x · Wᵀ (+ bias) or y = x · W, each element of W
    /// expanded on the fly and every sum taken in double.</summary>
    public void MatMul4Bit(Tensor x, PackedWeight4Bit w, Tensor y, bool transW, Tensor? bias = null)
    {
        var (m, k, n) = Quant4BitChecks.MatMul(x, w, y, transW, bias);
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++)
            {
                double sum = bias is null ? 0 : ReadAsDouble(bias, bias.Offset + j);
                for (long p = 0; p < k; p++)
                {
                    long element = transW ? j * w.Cols + p : p * w.Cols + j;   // W[j, p] or W[p, j]
                    sum += ReadAsDouble(x, x.Offset + i * k + p) * Weight(w, element);
                }
                WriteDouble(y, y.Offset + i * n + j, sum);
            }
    }

    /// <summary>Element <paramref name="i"/> (row-major) of the matrix a 4-bit weight stands for.</summary>
    private static double Weight(PackedWeight4Bit w, long i)
    {
        byte pair = (byte)ReadAsDouble(w.Packed, w.Packed.Offset + i / 2);
        int index = i % 2 == 0 ? pair >> 4 : pair & 0xF;
        double code = ReadAsDouble(w.Codebook, w.Codebook.Offset + index);
        return code * w.BlockScale(i / w.BlockSize);
    }
}
