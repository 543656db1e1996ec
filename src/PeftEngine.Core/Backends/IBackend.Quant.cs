namespace PeftEngine;

public partial interface IBackend
{
    /// <summary>
    /// Expands a blockwise 4-bit weight into <paramref name="output"/>, a contiguous F32 (rows, cols) tensor:
    /// <c>output[i] = codebook[q[i]] · scale(i / blockSize)</c> with the block scale of <see cref="PackedWeight4Bit.BlockScale"/>.
    /// </summary>
    /// <remarks>bitsandbytes: bnb.functional.dequantize_4bit(weight, quant_state).</remarks>
    void Dequantize4Bit(PackedWeight4Bit w, Tensor output);

    /// <summary>
    /// A product with a blockwise 4-bit weight W (rows, cols), never expanding all of W at once. With
    /// <paramref name="transW"/> (a Linear layer's forward pass): y (M, rows) = x (M, cols) · Wᵀ + bias; without
    /// (its input gradient): y (M, cols) = x (M, rows) · W, and <paramref name="bias"/> must be null.
    /// </summary>
    /// <remarks>x, y and the bias (rows) are contiguous F32. Each element of y is summed in an order that depends only
    /// on the shapes, never on the thread count. bitsandbytes: bnb.matmul_4bit(x, weight.t(), quant_state, bias).</remarks>
    void MatMul4Bit(Tensor x, PackedWeight4Bit w, Tensor y, bool transW, Tensor? bias = null);
}
