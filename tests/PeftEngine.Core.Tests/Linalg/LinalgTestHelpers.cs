namespace PeftEngine.Tests;

/// <summary>Matrix helpers for the linear algebra tests: products, identities and residual norms in f64.</summary>
internal static class LinalgTestHelpers
{
    /// <summary>The largest |x - y| over all elements.</summary>
    public static double MaxAbsDiff(Tensor x, Tensor y)
    {
        Assert.Equal(x.Shape, y.Shape);
        var a = x.ToDoubleArray();
        var b = y.ToDoubleArray();
        double worst = 0;
        for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs(a[i] - b[i]));
        return worst;
    }

    /// <summary>The largest |x| over all elements.</summary>
    public static double MaxAbs(Tensor x) => x.ToDoubleArray().Select(Math.Abs).DefaultIfEmpty(0).Max();

    /// <summary>xᵀ·x for a (..., m, k) tensor.</summary>
    public static Tensor Gram(Tensor x)
    {
        using var xt = Ops.Transpose(x, -1, -2);
        return Ops.MatMul(xt, x);
    }

    /// <summary>Asserts the columns of q are orthonormal to tolerance: ‖qᵀq - I‖_max ≤ tol.</summary>
    public static void AssertOrthonormalColumns(Tensor q, double tol)
    {
        using var g = Gram(q);
        using var eye = Eye(q.Shape[-1], q.DType);
        using var e = Ops.ExpandAs(eye, g);
        double err = MaxAbsDiff(g, e);
        Assert.True(err <= tol, $"columns not orthonormal: max |QᵀQ - I| = {err:E3} > {tol:E1}");
    }

    public static Tensor Eye(int n, DType dtype = DType.F64)
    {
        var v = new double[n * n];
        for (int i = 0; i < n; i++) v[i * n + i] = 1;
        using var t = Tensor.FromArray(v, n, n);
        return t.To(dtype);
    }

    /// <summary>u · diag(s) · vh.</summary>
    public static Tensor Reconstruct(Tensor u, Tensor s, Tensor vh)
    {
        using var s1 = Ops.Unsqueeze(s, -1); // (..., k) -> (..., k, 1)
        using var svh = Ops.Mul(vh, s1);
        return Ops.MatMul(u, svh);
    }

    /// <summary>A random matrix with chosen singular values: Q₁ · diag(sigma) · Q₂ᵀ from QR of random matrices.</summary>
    public static Tensor WithSingularValues(int seed, int m, int n, double[] sigma)
    {
        int k = Math.Min(m, n);
        using var g1 = TestData.Uniform(seed, new Shape(m, k));
        using var g2 = TestData.Uniform(seed + 1, new Shape(n, k));
        using var q1 = Linalg.Qr(g1);
        using var q2 = Linalg.Qr(g2);
        using var s = Tensor.FromArray(sigma, k);
        using var q2t = Ops.Transpose(q2.Q, 0, 1);
        return Reconstruct(q1.Q, s, q2t);
    }
}
