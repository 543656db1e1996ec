namespace PeftEngine.Nn;

/// <summary>
/// Layers with bf16 or f16 parameters: 16-bit tensors are storage (a checkpoint loaded as torch_dtype=bfloat16,
/// a frozen base under an adapter), and the layer computes in f32. A matrix weight is read by the GEMM in 16 bits
/// and widened as it is packed (no f32 copy); small vectors (norm scales, biases) and 16-bit inputs are cast to
/// f32 first; embedding rows are cast after the lookup. Outputs are f32, so the next layer sees f32 activations.
/// </summary>
/// <remarks>HF runs such models with bf16 activations and f32 accumulation in the matmuls; keeping activations in
/// f32 costs memory but no accuracy.</remarks>
internal static class HalfPrecision
{
    /// <summary>True for the 16-bit storage dtypes.</summary>
    public static bool IsHalf(DType dtype) => dtype is DType.BF16 or DType.F16;

    /// <summary>The dtype an input of dtype <paramref name="input"/> computes in: itself for f32/f64, f32 for 16-bit.</summary>
    public static DType Compute(DType input) => input.IsCompute() ? input : DType.F32;

    /// <summary>Null when <paramref name="t"/> already has <paramref name="dtype"/> (use t itself), else a
    /// differentiable cast the caller disposes.</summary>
    public static Tensor? CastIfNeeded(Tensor? t, DType dtype) => t is null || t.DType == dtype ? null : Ops.Cast(t, dtype);
}
