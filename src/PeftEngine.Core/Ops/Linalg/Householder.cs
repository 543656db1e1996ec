namespace PeftEngine;

/// <summary>
/// Householder reflections, the structure of HRA (Yuan et al., 2024): H_i = I - 2·u_i·u_iᵀ / ‖u_i‖² reflects
/// across the hyperplane orthogonal to u_i, and a product of r reflections is an orthogonal matrix built from
/// r·d parameters. HRA adapts a weight as W·H₁·H₂·…·H_r.
/// </summary>
/// <remarks>
/// Composite: each reflection is x - (2·(x·u)/(u·u))·u, applied one after another, so the gradient with respect
/// to x and every u_i comes from MatMul, Mul, Div and Sum. Cost O(r·d) per row instead of the O(d²) dense matrix.
/// PyTorch's torch.linalg.householder_product uses LAPACK's (v, τ) form instead; this is HRA's form.
/// </remarks>
public static partial class Ops
{
    /// <summary>x · H₁ · H₂ · … · H_r for x (..., d) and reflection vectors u (r, d) (rows; need not be unit length).</summary>
    public static Tensor HouseholderReflect(Tensor x, Tensor u)
    {
        CheckBinary(x, u, "HouseholderReflect");
        if (u.Rank != 2 || x.Rank < 1 || x.Shape[-1] != u.Shape[1])
            throw new ArgumentException($"HouseholderReflect: expected x (..., d) and reflection vectors u (r, d), got x {x.Shape} and u {u.Shape}");
        var y = Reshape(x, x.Shape.ToArray());
        for (int i = 0; i < u.Shape[0]; i++)
        {
            using var ui = Select(u, 0, i);          // (d)
            using var uu = MatMul(ui, ui);            // ‖u_i‖², 0-D
            using var xu = MatMul(y, ui);             // (...): x·u_i per row
            using var ratio = Div(xu, uu);
            using var coef = Mul(ratio, 2.0);         // 2·(x·u)/(u·u)
            using var c1 = Unsqueeze(coef, -1);       // (...) -> (..., 1)
            using var step = Mul(c1, ui);             // (..., d)
            var next = Sub(y, step);
            y.Dispose();
            y = next;
        }
        return y;
    }

    /// <summary>The orthogonal matrix H₁ · H₂ · … · H_r (d, d) of reflection vectors u (r, d).</summary>
    public static Tensor HouseholderProduct(Tensor u)
    {
        DTypes.RequireCompute(u, "HouseholderProduct");
        if (u.Rank != 2) throw new ArgumentException($"HouseholderProduct: expected reflection vectors u (r, d), got {u.Shape}");
        using var eye = LinalgArgs.Eye(u.Shape[1], u.DType, u.Device);
        return HouseholderReflect(eye, u); // rows of I·H₁·…·H_r
    }
}
