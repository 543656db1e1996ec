namespace PeftEngine;

/// <summary>Argument checks of <see cref="IBackend.Dequantize4Bit"/> and <see cref="IBackend.MatMul4Bit"/>, shared by
/// every backend's 4-bit kernels so that they reject the same calls with the same messages.</summary>
public static class Quant4BitChecks
{
    /// <summary>Checks a <see cref="IBackend.Dequantize4Bit"/> call.</summary>
    public static void Dequantize(PackedWeight4Bit w, Tensor output)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (output.DType != DType.F32 || !output.IsContiguous || output.Numel != (long)w.Rows * w.Cols)
            throw new ArgumentException(
                $"Dequantize4Bit: the output must be a contiguous f32 tensor of {w.Rows}x{w.Cols} elements, got {output.DType.Name()} {output.Shape}");
    }

    /// <summary>Checks a <see cref="IBackend.MatMul4Bit"/> call and returns (M, K, N) of y (M, N) = x (M, K) · op(W).</summary>
    public static (int M, int K, int N) MatMul(Tensor x, PackedWeight4Bit w, Tensor y, bool transW, Tensor? bias)
    {
        ArgumentNullException.ThrowIfNull(w);
        int k = transW ? w.Cols : w.Rows, n = transW ? w.Rows : w.Cols;
        if (x.DType != DType.F32 || y.DType != DType.F32 || !x.IsContiguous || !y.IsContiguous)
            throw new ArgumentException($"MatMul4Bit: x and y must be contiguous f32, got x {x.DType.Name()} {x.Shape}, y {y.DType.Name()} {y.Shape}");
        if (x.Rank != 2 || y.Rank != 2 || x.Shape[1] != k || y.Shape[1] != n || x.Shape[0] != y.Shape[0])
            throw new ArgumentException(
                $"MatMul4Bit: x {x.Shape} times {(transW ? "the transpose of " : "")}the 4-bit weight ({w.Rows}, {w.Cols}) does not fit y {y.Shape}");
        if (bias is not null && (!transW || bias.DType != DType.F32 || !bias.IsContiguous || bias.Numel != n))
            throw new ArgumentException($"MatMul4Bit: a bias is only allowed with transW and must be a contiguous f32 ({n},) vector, got {bias.DType.Name()} {bias.Shape}");
        return (x.Shape[0], k, n);
    }
}
