namespace PeftEngine;

/// <summary>Elementwise functions of one tensor. Some take parameters (alpha, beta) as noted.</summary>
public enum UnaryOp
{
    Neg, Exp, Log, Sqrt, Rsqrt, Abs, Sign, Square, Reciprocal, Sin, Cos,
    Relu, Sigmoid, Tanh, Silu, Softplus, Erf,
    /// <summary>GELU with the exact erf: x * Φ(x).</summary>
    GeluErf,
    /// <summary>GELU with the tanh approximation.</summary>
    GeluTanh,
    /// <summary>x if x &gt; 0 else alpha * x.</summary>
    LeakyRelu,
    /// <summary>x ^ alpha.</summary>
    PowScalar,
    /// <summary>min(max(x, alpha), beta); use ±infinity for a one-sided clamp.</summary>
    Clamp,
    /// <summary>x + alpha.</summary>
    AddScalar,
    /// <summary>x * alpha.</summary>
    MulScalar,
}

/// <summary>Elementwise functions of two tensors.</summary>
public enum BinaryOp { Add, Sub, Mul, Div, Pow, Maximum, Minimum }

public partial interface IBackend
{
    /// <summary>y = f(x). x may be strided; y is contiguous, or the same layout as x (in place).</summary>
    void Unary(UnaryOp op, Tensor x, Tensor y, double alpha = 0, double beta = 0);

    /// <summary>dx = dy * f'(x), the backward of <see cref="Unary"/>. dy and dx are contiguous.</summary>
    void UnaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx, double alpha = 0, double beta = 0);

    /// <summary>y = a ∘ b. a and b are views already expanded to y's shape (stride 0 where broadcast);
    /// y may be the same tensor as a (in place).</summary>
    void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y);

    /// <summary>The backward of <see cref="Binary"/>: da = dy * ∂y/∂a and db = dy * ∂y/∂b. a and b are views
    /// expanded to dy's shape (stride 0 where broadcast); dy is contiguous; da and db are contiguous tensors of
    /// dy's shape (the op sums them down to the inputs' shapes), or null when that gradient is not needed.</summary>
    void BinaryBackward(BinaryOp op, Tensor a, Tensor b, Tensor dy, Tensor? da, Tensor? db);
}
