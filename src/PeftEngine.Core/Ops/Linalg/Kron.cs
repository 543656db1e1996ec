namespace PeftEngine;

/// <summary>
/// The Kronecker product: kron(A, B)[i·p + k, j·q + l] = A[i, j] · B[k, l] for A (m, n) and B (p, q), a
/// (m·p, n·q) block matrix whose block (i, j) is A[i, j]·B. LoKr, KronA and Compacter's PHM layers build their
/// weight updates this way.
/// </summary>
/// <remarks>
/// Composite (broadcast Mul then Reshape), so the gradient comes from those ops:
/// dA[i, j] = Σ_kl g[i·p + k, j·q + l]·B[k, l] and dB[k, l] = Σ_ij g[i·p + k, j·q + l]·A[i, j].
/// Leading batch dimensions are allowed and must be equal in both operands.
/// </remarks>
public static partial class Ops
{
    /// <summary>The Kronecker product of the last two dimensions of a (..., m, n) and b (..., p, q) -> (..., m·p, n·q).</summary>
    /// <remarks>PyTorch: torch.kron for 2-D operands (batched here over equal leading dimensions).</remarks>
    public static Tensor Kron(Tensor a, Tensor b)
    {
        CheckBinary(a, b, "Kron");
        if (a.Rank < 2 || a.Rank != b.Rank || !a.Shape.ToArray()[..^2].SequenceEqual(b.Shape.ToArray()[..^2]))
            throw new ArgumentException($"Kron: expected a (..., m, n) and b (..., p, q) with equal batch dimensions, got {a.Shape} and {b.Shape}");
        var batch = a.Shape.ToArray()[..^2];
        int m = a.Shape[-2], n = a.Shape[-1], p = b.Shape[-2], q = b.Shape[-1];
        using var a4 = Reshape(a, [.. batch, m, 1, n, 1]); // (..., m, n) -> (..., m, 1, n, 1)
        using var b4 = Reshape(b, [.. batch, 1, p, 1, q]); // (..., p, q) -> (..., 1, p, 1, q)
        using var prod = Mul(a4, b4);                       // (..., m, p, n, q)
        return Reshape(prod, [.. batch, m * p, n * q]);     // -> (..., m·p, n·q)
    }
}
