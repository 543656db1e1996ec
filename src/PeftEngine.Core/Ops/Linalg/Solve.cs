namespace PeftEngine;

/// <summary>
/// Linear solves and what follows from them: <see cref="Solve"/>, <see cref="Inverse"/>, <see cref="LuSolve"/>
/// and <see cref="PseudoInverse"/>. Solve (and Inverse, built on it) are differentiable; OFT's Cayley
/// transform R = (I + S)(I - S)⁻¹ trains through them.
/// </summary>
/// <remarks>
/// Backward of X = A⁻¹·B: dB = A⁻ᵀ·dX and dA = -dB·Xᵀ (for a vector b: dA = -dB ⊗ x).
/// </remarks>
public static partial class Linalg
{
    /// <summary>
    /// The solution X of A · X = B for square invertible A (..., n, n). B is (..., n, k) with the same batch
    /// dimensions as A, or a vector (..., n) (one fewer dimension than A). Throws, naming the matrix, when A is
    /// singular. Differentiable with respect to A and B.
    /// </summary>
    /// <remarks>PyTorch: torch.linalg.solve(A, B). LU with partial pivoting in f64.</remarks>
    public static Tensor Solve(Tensor a, Tensor b) => SolveCore(a, b, "Solve");

    /// <summary>The inverse of square invertible matrices (..., n, n); differentiable (d(A⁻¹) = -A⁻ᵀ·g·A⁻ᵀ).</summary>
    /// <remarks>PyTorch: torch.linalg.inv. Computed as Solve(A, I).</remarks>
    public static Tensor Inverse(Tensor a)
    {
        LinalgArgs.RequireSquare(a, "Inverse");
        using var eye = LinalgArgs.Eye(a.Shape[-1], a.DType, a.Device);
        using var eyes = Ops.ExpandNoGrad(eye, a.Shape); // (n, n) -> (..., n, n)
        return SolveCore(a, eyes, "Inverse");
    }

    /// <summary>Solves A · X = B from A's packed LU factors (<see cref="LuFactor"/>); B is (..., n, k). Not differentiable.</summary>
    /// <remarks>PyTorch: torch.linalg.lu_solve(LU, pivots, B).</remarks>
    public static Tensor LuSolve(LuFactors factors, Tensor b)
    {
        const string op = "LuSolve";
        LinalgArgs.RequireMatrix(b, op);
        var lu = factors.LU;
        if (b.Shape[-2] != lu.Shape[-1] || !LinalgArgs.Batch(b).SequenceEqual(LinalgArgs.Batch(lu)))
            throw new ArgumentException($"{op}: B {b.Shape} does not match the factors {lu.Shape}: expected (..., {lu.Shape[-1]}, k) with the same batch");
        using var lu64 = LinalgArgs.AsF64(lu);
        using var b64 = LinalgArgs.AsF64(b);
        var x = Tensor.Empty(b.Shape, DType.F64, b.Device);
        if (x.Numel > 0) b.Backend.LuSolve(lu64, factors.Pivots, b64, x);
        return LinalgArgs.FromF64(x, b.DType);
    }

    /// <summary>
    /// The Moore–Penrose pseudo-inverse (..., n, m) of a (..., m, n) from its SVD: V · diag(1/σ) · Uᵀ, with
    /// singular values at or below <paramref name="rtol"/> · σ_max treated as zero (default max(m, n) · ε of the
    /// dtype). Not differentiable.
    /// </summary>
    /// <remarks>PyTorch: torch.linalg.pinv(a, rtol).</remarks>
    public static Tensor PseudoInverse(Tensor a, double? rtol = null)
    {
        const string op = "PseudoInverse";
        LinalgArgs.RequireMatrix(a, op);
        LinalgArgs.RequireNoGraph(a, op);
        int m = a.Shape[-2], n = a.Shape[-1];
        double eps = a.DType == DType.F32 ? 1.1920929e-07 : 2.220446049250313e-16;
        double tol = rtol ?? Math.Max(m, n) * eps;
        using (GradMode.Disable())
        {
            using var a64 = LinalgArgs.AsF64(a);
            using var svd = Svd(a64);
            using var smax = Ops.Slice(svd.S, -1, 0, 1);         // (..., 1), the largest singular value
            using var cutoff = Ops.Mul(smax, tol);
            using var keep = Ops.Gt(svd.S, cutoff);              // (..., k) U8
            using var safe = Ops.Where(keep, svd.S, 1.0);
            using var inv = Ops.Reciprocal(safe);
            using var invS = Ops.Where(keep, inv, 0.0);          // 1/σ, or 0 below the cutoff
            using var scale = Ops.Unsqueeze(invS, -1);           // (..., k) -> (..., k, 1)
            using var scaledVh = Ops.Mul(svd.Vh, scale);         // diag(1/σ) · Vh
            using var v = Ops.Transpose(scaledVh, -1, -2);       // (..., n, k)
            using var ut = Ops.Transpose(svd.U, -1, -2);         // (..., k, m)
            using var p = Ops.MatMul(v, ut);                     // (..., n, m)
            return p.To(a.DType);
        }
    }

    internal static Tensor SolveCore(Tensor a, Tensor b, string op)
    {
        LinalgArgs.RequireSquare(a, op);
        Ops.CheckBinary(a, b, op);
        int n = a.Shape[-1];
        var batch = LinalgArgs.Batch(a);
        bool vector = b.Rank == a.Rank - 1;
        bool matches = vector
            ? b.Shape[-1] == n && b.Shape.ToArray()[..^1].SequenceEqual(batch)
            : b.Rank == a.Rank && b.Shape[-2] == n && LinalgArgs.Batch(b).SequenceEqual(batch);
        if (!matches)
            throw new ArgumentException($"{op}: B {b.Shape} does not match A {a.Shape}: expected (..., {n}, k) or (..., {n}) with A's batch dimensions");

        var (lu, piv, failure) = Factor(a, op);
        using (lu)
        using (piv)
        {
            if (failure is { } f)
                throw new ArgumentException($"{op}: the matrix {a.Shape} (batch element {f.Batch}) is singular: zero pivot in column {f.Column}");
            Tensor x64;
            using (GradMode.Disable())
            {
                using var b64 = LinalgArgs.AsF64(b);
                using var bm = vector ? Ops.Unsqueeze(b64, -1) : b64.Alias(); // (..., n) -> (..., n, 1)
                using var xm = Tensor.Empty(bm.Shape, DType.F64, a.Device);
                if (xm.Numel > 0) a.Backend.LuSolve(lu, piv, bm, xm);
                x64 = vector ? Ops.Squeeze(xm, -1) : xm.Alias();
            }
            var x = LinalgArgs.FromF64(x64, a.DType);
            if (Graph.IsRecording(a, b))
                Graph.Attach(x, new SolveNode(a, x, vector), a, b);
            return x;
        }
    }

    private sealed class SolveNode : GradNode
    {
        private readonly SavedTensor _a, _x;
        private readonly bool _vector;

        public SolveNode(Tensor a, Tensor x, bool vector)
        {
            _a = Save(a);
            _x = Save(x);
            _vector = vector;
        }

        public override string Name => "Solve";

        public override Tensor?[] Backward(Tensor g)
        {
            using var at = Ops.Transpose(_a.Value, -1, -2);
            var gb = SolveCore(at, g, "Solve backward"); // dB = A⁻ᵀ·g
            if (!NeedsGrad(0)) return [null, gb];
            Tensor ga;
            if (_vector)
            {
                using var col = Ops.Unsqueeze(gb, -1);       // (..., n, 1)
                using var row = Ops.Unsqueeze(_x.Value, -2); // (..., 1, n)
                using var outer = Ops.Mul(col, row);
                ga = Ops.Neg(outer);                          // dA = -dB ⊗ x
            }
            else
            {
                using var xt = Ops.Transpose(_x.Value, -1, -2);
                using var prod = Ops.MatMul(gb, xt);
                ga = Ops.Neg(prod);                           // dA = -dB·Xᵀ
            }
            if (NeedsGrad(1)) return [ga, gb];
            gb.Dispose();
            return [ga, null];
        }
    }
}
