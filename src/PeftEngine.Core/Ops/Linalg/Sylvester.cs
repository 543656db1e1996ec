namespace PeftEngine;

/// <summary>
/// The Sylvester equation A·X + X·B = C for small matrices (LoRA-Pro's optimal-gradient correction), A (m×m),
/// B (n×n), C (m×n). Two routes:
/// <list type="bullet">
/// <item>General (and differentiable): the Kronecker form (A ⊗ Iₙ + Iₘ ⊗ Bᵀ)·vec(X) = vec(C) with row-major vec,
/// solved by LU; m·n is limited to <see cref="MaxKroneckerSize"/> because the system has (m·n)² entries.</item>
/// <item>Symmetric A and B outside the graph (LoRA-Pro's case, both are Gram matrices): Bartels–Stewart with
/// eigendecompositions A = P·diag(λ)·Pᵀ, B = Q·diag(μ)·Qᵀ, so X = P·[(Pᵀ·C·Q) ./ (λᵢ + μⱼ)]·Qᵀ, O(m³ + n³).</item>
/// </list>
/// A unique solution exists when no λᵢ + μⱼ is zero.
/// </summary>
/// <remarks>PyTorch has no built-in; SciPy: scipy.linalg.solve_sylvester (Bartels–Stewart on Schur forms).</remarks>
public static partial class Linalg
{
    /// <summary>The largest m·n solved through the Kronecker system.</summary>
    public const int MaxKroneckerSize = 4096;

    /// <summary>X with A·X + X·B = C (2-D matrices). Differentiable through the Kronecker route.</summary>
    public static Tensor SolveSylvester(Tensor a, Tensor b, Tensor c)
    {
        const string op = "SolveSylvester";
        LinalgArgs.RequireSquare(a, op);
        LinalgArgs.RequireSquare(b, op);
        Ops.CheckBinary(a, b, op);
        Ops.CheckBinary(a, c, op);
        if (a.Rank != 2 || b.Rank != 2 || c.Rank != 2 || c.Shape[0] != a.Shape[0] || c.Shape[1] != b.Shape[0])
            throw new ArgumentException($"{op}: expected A (m, m), B (n, n), C (m, n), got A {a.Shape}, B {b.Shape}, C {c.Shape}");
        int m = a.Shape[0], n = b.Shape[0];
        bool recording = Graph.IsRecording(a, b) || Graph.IsRecording(c);
        if (!recording && IsSymmetric(a) && IsSymmetric(b)) return SymmetricSylvester(a, b, c);
        if ((long)m * n > MaxKroneckerSize)
            throw new ArgumentException(
                $"{op}: A {a.Shape} and B {b.Shape} give a Kronecker system of size {(long)m * n} > {MaxKroneckerSize}; " +
                "only symmetric A and B (outside the graph) are solved at that size");
        using var eyeM = LinalgArgs.Eye(m, a.DType, a.Device);
        using var eyeN = LinalgArgs.Eye(n, a.DType, a.Device);
        using var bt = Ops.Transpose(b, 0, 1);
        using var k1 = Ops.Kron(a, eyeN);   // A ⊗ Iₙ acts as X ↦ A·X on row-major vec(X)
        using var k2 = Ops.Kron(eyeM, bt);  // Iₘ ⊗ Bᵀ acts as X ↦ X·B
        using var k = Ops.Add(k1, k2);      // (m·n, m·n)
        using var cv = Ops.Reshape(c, m * n); // (m, n) -> (m·n)
        using var xv = SolveCore(k, cv, op);
        return Ops.Reshape(xv, m, n);       // (m·n) -> (m, n)
    }

    private static Tensor SymmetricSylvester(Tensor a, Tensor b, Tensor c)
    {
        using (GradMode.Disable())
        {
            using var ea = Eigh(a);
            using var eb = Eigh(b);
            using var pt = Ops.Transpose(ea.Eigenvectors, 0, 1);
            using var ptc = Ops.MatMul(pt, c);
            using var y = Ops.MatMul(ptc, eb.Eigenvectors);          // Pᵀ·C·Q
            using var lam = Ops.Unsqueeze(ea.Eigenvalues, 1);         // (m) -> (m, 1)
            using var mu = Ops.Unsqueeze(eb.Eigenvalues, 0);          // (n) -> (1, n)
            using var denom = Ops.Add(lam, mu);                       // λᵢ + μⱼ
            if (denom.ToDoubleArray().Any(d => d == 0))
                throw new ArgumentException($"SolveSylvester: A {a.Shape} and -B {b.Shape} share an eigenvalue; the equation has no unique solution");
            using var z = Ops.Div(y, denom);
            using var qt = Ops.Transpose(eb.Eigenvectors, 0, 1);
            using var pz = Ops.MatMul(ea.Eigenvectors, z);
            return Ops.MatMul(pz, qt);
        }
    }

    private static bool IsSymmetric(Tensor a)
    {
        using (GradMode.Disable())
        {
            using var at = Ops.Transpose(a, 0, 1);
            using var d = Ops.Sub(a, at);
            using var ad = Ops.Abs(d);
            using var aa = Ops.Abs(a);
            if (a.Numel == 0) return true;
            using var maxDiff = Ops.Max(ad);
            using var maxA = Ops.Max(aa);
            double tol = (a.DType == DType.F32 ? 1e-6 : 1e-13) * maxA.Item();
            return maxDiff.Item() <= tol;
        }
    }
}
