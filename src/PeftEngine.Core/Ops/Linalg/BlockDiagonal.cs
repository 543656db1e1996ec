namespace PeftEngine;

/// <summary>
/// Block-diagonal and butterfly products, the orthogonal fine-tuning structures: OFT multiplies activations by
/// blockdiag(R₁, …, R_b) (each R_i a k×k block), and BOFT by a product of such factors, each taken after a
/// butterfly permutation of the features so that the blocks of successive factors mix different features.
/// </summary>
/// <remarks>
/// Composites of Reshape, Transpose, batched MatMul and IndexSelect, so the gradients come from those ops:
/// for y_i = x_i·R_i, dx_i = dy_i·R_iᵀ and dR_i = Σ_rows x_iᵀ·dy_i. The dense matrix is never formed.
/// </remarks>
public static partial class Ops
{
    /// <summary>
    /// x · blockdiag(R₁, …, R_b) for x (..., b·k) and blocks (b, k, k): feature chunk i of x is multiplied by
    /// R_i, y[..., i·k:(i+1)·k] = x[..., i·k:(i+1)·k] · R_i.
    /// </summary>
    /// <remarks>PyTorch: x @ torch.block_diag(*R) (HF PEFT OFT's forward does this with the dense matrix).</remarks>
    public static Tensor BlockDiagMatMul(Tensor x, Tensor blocks)
    {
        CheckBinary(x, blocks, "BlockDiagMatMul");
        if (blocks.Rank != 3 || blocks.Shape[1] != blocks.Shape[2] || x.Rank < 1 || x.Shape[-1] != blocks.Shape[0] * blocks.Shape[1])
            throw new ArgumentException($"BlockDiagMatMul: expected x (..., b·k) and blocks (b, k, k), got x {x.Shape} and blocks {blocks.Shape}");
        int b = blocks.Shape[0], k = blocks.Shape[1];
        var lead = x.Shape.ToArray()[..^1];
        using var x3 = Reshape(x, -1, b, k);       // (..., b·k) -> (N, b, k)
        using var xt = Transpose(x3, 0, 1);         // (b, N, k)
        using var y3 = MatMul(xt, blocks);          // (b, N, k): one product per block
        using var yt = Transpose(y3, 0, 1);         // (N, b, k)
        return Reshape(yt, [.. lead, b * k]);       // -> (..., b·k)
    }

    /// <summary>The dense block-diagonal matrix (b·k, b·k) of blocks (b, k, k), for merging into a weight.</summary>
    /// <remarks>PyTorch: torch.block_diag(*blocks).</remarks>
    public static Tensor BlockDiag(Tensor blocks)
    {
        DTypes.RequireCompute(blocks, "BlockDiag");
        if (blocks.Rank != 3 || blocks.Shape[1] != blocks.Shape[2])
            throw new ArgumentException($"BlockDiag: expected blocks (b, k, k), got {blocks.Shape}");
        int b = blocks.Shape[0], k = blocks.Shape[1];
        using var eye = LinalgArgs.Eye(b, blocks.DType, blocks.Device);
        using var e4 = Reshape(eye, b, b, 1, 1);    // δ_ij as (b, b, 1, 1)
        using var r4 = Reshape(blocks, b, 1, k, k);  // R_i as (b, 1, k, k)
        using var z = Mul(e4, r4);                   // Z[i, j, p, q] = δ_ij·R_i[p, q]
        using var zp = Permute(z, 0, 2, 1, 3);       // (i, p, j, q)
        return Reshape(zp, b * k, b * k);
    }

    /// <summary>
    /// The butterfly permutation of level <paramref name="level"/> (stride s = 2^level) for d features and
    /// block size k: within each group of k·s consecutive features, feature a·s + c moves to position c·k + a,
    /// so block c of the group holds the k features spaced s apart. Level 0 is the identity. perm[new] = old.
    /// </summary>
    /// <remarks>The perfect-shuffle butterfly of BOFT (Liu et al., 2024); with k = 2 and levels 0..log₂(d)-1
    /// the factors connect every feature to every other, as in the FFT.</remarks>
    public static long[] ButterflyPermutation(int d, int blockSize, int level)
    {
        long group = (long)blockSize << level;
        if (blockSize < 1 || level < 0 || d % group != 0)
            throw new ArgumentException($"ButterflyPermutation: {d} features do not split into groups of block size {blockSize} × 2^{level} = {group}");
        int s = 1 << level;
        var perm = new long[d];
        for (long g = 0; g < d; g += group)
            for (int a = 0; a < blockSize; a++)
                for (int c = 0; c < s; c++)
                    perm[g + (long)c * blockSize + a] = g + (long)a * s + c;
        return perm;
    }

    /// <summary>
    /// x · B₀ · B₁ · … for x (..., d) and factors (m, b, k, k), d = b·k: factor l is Pₗ·blockdiag(R_l)·Pₗᵀ with
    /// Pₗ the <see cref="ButterflyPermutation"/> of level l, i.e. y = (x[..., perm] · blockdiag(R_l))[..., perm⁻¹].
    /// </summary>
    /// <remarks>HF PEFT BOFT builds the same product of permuted block-diagonal factors as a dense matrix.</remarks>
    public static Tensor ButterflyMatMul(Tensor x, Tensor factors)
    {
        CheckBinary(x, factors, "ButterflyMatMul");
        if (factors.Rank != 4 || x.Rank < 1 || x.Shape[-1] != factors.Shape[1] * factors.Shape[2])
            throw new ArgumentException($"ButterflyMatMul: expected x (..., b·k) and factors (m, b, k, k), got x {x.Shape} and factors {factors.Shape}");
        int m = factors.Shape[0], b = factors.Shape[1], k = factors.Shape[2], d = b * k;
        var y = Reshape(x, x.Shape.ToArray()); // a new tensor (with x's graph) that the loop may dispose
        for (int l = 0; l < m; l++)
        {
            var perm = ButterflyPermutation(d, k, l);
            var inverse = new long[d];
            for (int i = 0; i < d; i++) inverse[perm[i]] = i;
            using var fwd = IndexTensor(perm, x.Device);
            using var back = IndexTensor(inverse, x.Device);
            using var r = Select(factors, 0, l);            // (b, k, k)
            using var shuffled = IndexSelect(y, -1, fwd);     // features in butterfly order
            using var mixed = BlockDiagMatMul(shuffled, r);
            y.Dispose();
            y = IndexSelect(mixed, -1, back);                 // and back
        }
        return y;
    }

    private static Tensor IndexTensor(long[] values, Device device)
    {
        using var host = Tensor.FromArray(values, values.Length);
        return host.To(device);
    }
}
