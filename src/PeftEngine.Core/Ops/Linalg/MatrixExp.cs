namespace PeftEngine;

/// <summary>
/// The matrix exponential exp(A) = Σ Aᵏ/k! by scaling and squaring with the [13/13] Padé approximant
/// (Higham, "The scaling and squaring method for the matrix exponential revisited", 2005):
/// exp(A) = r₁₃(A / 2ˢ)^(2ˢ), r₁₃ = (V - U)⁻¹·(V + U) with U the odd and V the even part of the Padé numerator,
/// s the smallest integer with ‖A / 2ˢ‖₁ ≤ θ₁₃ = 5.37.
/// </summary>
/// <remarks>
/// Built from MatMul, Add and <see cref="Linalg.Solve"/> in f64, so it is differentiable (the gradient of the
/// approximant, exact to its accuracy); s is chosen from the norm of the values and is a constant for backward.
/// Used for orthogonal parametrizations: exp of a skew-symmetric matrix is a rotation.
/// </remarks>
public static partial class Linalg
{
    private const double Theta13 = 5.371920351148152;

    private static readonly double[] Pade13 =
    [
        64764752532480000, 32382376266240000, 7771770303897600, 1187353796428800, 129060195264000,
        10559470521600, 670442572800, 33522128640, 1323241920, 40840800, 960960, 16380, 182, 1,
    ];

    /// <summary>exp(a) for square matrices (..., n, n); differentiable.</summary>
    /// <remarks>PyTorch: torch.linalg.matrix_exp.</remarks>
    public static Tensor MatrixExp(Tensor a)
    {
        const string op = "MatrixExp";
        LinalgArgs.RequireSquare(a, op);
        int n = a.Shape[-1];
        using var a64 = a.DType == DType.F64 ? Ops.Clone(a) : Ops.Cast(a, DType.F64);

        // s from the largest 1-norm (max column sum of |a|) in the batch
        double norm1;
        using (GradMode.Disable())
        {
            using var abs = Ops.Abs(a64);
            using var colSums = Ops.Sum(abs, -2);
            using var max = colSums.Numel > 0 ? Ops.Max(colSums) : Tensor.Scalar(0, DType.F64);
            norm1 = max.Item();
        }
        int s = norm1 > Theta13 ? (int)Math.Ceiling(Math.Log2(norm1 / Theta13)) : 0;

        var b = Pade13;
        using var x = Ops.Mul(a64, Math.Pow(2, -s));
        using var eye = LinalgArgs.Eye(n, DType.F64, a.Device);
        using var x2 = Ops.MatMul(x, x);
        using var x4 = Ops.MatMul(x2, x2);
        using var x6 = Ops.MatMul(x4, x2);
        // U = X·[X6·(b13·X6 + b11·X4 + b9·X2) + b7·X6 + b5·X4 + b3·X2 + b1·I]
        using var uInner = Combine(b[13], x6, b[11], x4, b[9], x2, 0, eye);
        using var uHigh = Ops.MatMul(x6, uInner);
        using var uLow = Combine(b[7], x6, b[5], x4, b[3], x2, b[1], eye);
        using var uSum = Ops.Add(uHigh, uLow);
        using var u = Ops.MatMul(x, uSum);
        // V = X6·(b12·X6 + b10·X4 + b8·X2) + b6·X6 + b4·X4 + b2·X2 + b0·I
        using var vInner = Combine(b[12], x6, b[10], x4, b[8], x2, 0, eye);
        using var vHigh = Ops.MatMul(x6, vInner);
        using var vLow = Combine(b[6], x6, b[4], x4, b[2], x2, b[0], eye);
        using var v = Ops.Add(vHigh, vLow);
        using var p = Ops.Add(v, u);
        using var q = Ops.Sub(v, u);
        var r = SolveCore(q, p, op); // r₁₃ = (V - U)⁻¹·(V + U)
        for (int i = 0; i < s; i++)
        {
            var sq = Ops.MatMul(r, r);
            r.Dispose();
            r = sq;
        }
        if (a.DType == DType.F64) return r;
        using (r) return Ops.Cast(r, a.DType);
    }

    /// <summary>c6·X6 + c4·X4 + c2·X2 + c0·I.</summary>
    private static Tensor Combine(double c6, Tensor x6, double c4, Tensor x4, double c2, Tensor x2, double c0, Tensor eye)
    {
        using var t6 = Ops.Mul(x6, c6);
        using var t4 = Ops.Mul(x4, c4);
        using var t2 = Ops.Mul(x2, c2);
        using var s1 = Ops.Add(t6, t4);
        var s2 = Ops.Add(s1, t2);
        if (c0 == 0) return s2;
        using (s2)
        using (var ti = Ops.Mul(eye, c0))
            return Ops.Add(s2, ti);
    }
}
