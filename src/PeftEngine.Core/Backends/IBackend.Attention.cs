namespace PeftEngine;

/// <summary>
/// Fused scaled dot-product attention: softmax(Q·Kᵀ·scale + mask)·V computed tile by tile with an online
/// softmax, so the (T, S) matrix of scores is never stored for a whole sequence, and its backward, which
/// recomputes the probabilities tile by tile from the saved per-row logsumexp.
/// </summary>
/// <remarks>
/// Layouts shared by both kernels (all float tensors have the same compute dtype, F32 or F64):
/// <list type="bullet">
/// <item>q (B, H, T, D), k (B, Hkv, S, D), v (B, Hkv, S, Dv), out and dOut (B, H, T, Dv), lse (B, H, T): contiguous.
/// H is a multiple of Hkv; query head h reads key/value head h / (H / Hkv) (grouped-query attention) without
/// copying k or v.</item>
/// <item>mask: optional additive mask viewed as (B, H, T, S) with any strides on the first three dimensions
/// (stride 0 on a broadcast one, as <c>Ops.Expand</c> gives) and stride 1 along S. 0 allows a key, -infinity
/// forbids it; other values are added to the scores.</item>
/// <item>causal: query i (0-based among T) may see keys 0 .. i + (S - T): the queries are the last T of the S
/// positions, which is <c>Ops.CausalMask</c>'s alignment (T = S without a key/value cache). Requires T ≤ S.</item>
/// </list>
/// A query row that can see no key gives NaN, as the composite softmax does. Besides its outputs a kernel may use
/// scratch memory of the size of k and v (e.g. transposed copies) and a few tiles per thread, never O(T·S).
/// </remarks>
public partial interface IBackend
{
    /// <summary>
    /// out = softmax(q·kᵀ·scale + mask [+ causal mask])·v per (batch, head), and
    /// lse[b, h, i] = log Σ_j exp(score_ij), the logsumexp of each row of scores, for the backward.
    /// </summary>
    void AttentionForward(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal, double scale, Tensor output, Tensor lse);

    /// <summary>
    /// Backward of <see cref="AttentionForward"/>. With P = exp(scores - lse) recomputed tile by tile,
    /// Δ_i = Σ_c dOut_ic · out_ic, dP = dOut·vᵀ and dS = P ∘ (dP - Δ):
    /// dq = scale · dS·k, dk = scale · dSᵀ·q, dv = Pᵀ·dOut, with dk and dv (B, Hkv, S, ·) summed over the query
    /// heads of each group. Any of dq, dk, dv may be null (not computed); the others are overwritten. Sums run in
    /// a fixed order, so the results do not depend on the thread count.
    /// </summary>
    void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal, double scale,
        Tensor output, Tensor dOutput, Tensor lse, Tensor? dq, Tensor? dk, Tensor? dv);
}
