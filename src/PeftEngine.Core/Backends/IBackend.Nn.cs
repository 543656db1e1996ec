namespace PeftEngine;

/// <summary>Which dimensions of a head a rotary embedding rotates together.</summary>
public enum RopeStyle
{
    /// <summary>Pairs (2i, 2i+1): the original RoPE paper, GPT-J and Meta's llama reference code.</summary>
    Interleaved,
    /// <summary>Pairs (i, i + R/2) for rotary width R: Hugging Face Llama/Mistral/Qwen2 and GPT-NeoX
    /// ("rotate_half").</summary>
    RotateHalf,
}

/// <summary>
/// Fused kernels of the neural-network ops: softmax, normalisations, embedding lookup, cross-entropy and
/// rotary embeddings. Each works row by row over the last dimension and has a hand-written backward.
/// </summary>
/// <remarks>
/// Every tensor passed to these kernels is contiguous (the ops call <c>Ops.ContiguousNoGrad</c> first) and
/// every float tensor of one call has the same compute dtype (F32 or F64). Statistics saved for backward
/// (mean, rstd, logsumexp) have that dtype too. "Rows" means x viewed as (rows, n) with n the last size.
/// </remarks>
public partial interface IBackend
{
    /// <summary>
    /// y = softmax(x) over the last dimension: y_j = exp(x_j - m) / Σ_k exp(x_k - m) with m = max_k x_k; or,
    /// when <paramref name="log"/>, y_j = x_j - m - log Σ_k exp(x_k - m).
    /// </summary>
    void Softmax(Tensor x, Tensor y, bool log);

    /// <summary>
    /// Backward of <see cref="Softmax"/> from the saved output y: dx = y ∘ (dy - Σ_j dy_j y_j) for softmax,
    /// dx = dy - exp(y) Σ_j dy_j for log-softmax.
    /// </summary>
    void SoftmaxBackward(Tensor y, Tensor dy, Tensor dx, bool log);

    /// <summary>
    /// Layer normalisation of each row of x (rows, n): y = (x - mean) * rstd * weight + bias with
    /// rstd = 1 / sqrt(var + eps) (biased variance). Writes mean and rstd, each of shape (rows), for backward.
    /// weight and bias, of n elements, are optional (treated as 1 and 0).
    /// </summary>
    void LayerNorm(Tensor x, Tensor? weight, Tensor? bias, double eps, Tensor y, Tensor mean, Tensor rstd);

    /// <summary>
    /// Backward of <see cref="LayerNorm"/>. With x̂ = (x - mean) * rstd and g = dy * weight:
    /// dx = rstd * (g - mean_j(g) - x̂ * mean_j(g x̂)); dweight = Σ_rows dy x̂; dbias = Σ_rows dy.
    /// Each output is computed only when it is not null. The sums over rows are done in a fixed order.
    /// </summary>
    void LayerNormBackward(Tensor x, Tensor? weight, Tensor mean, Tensor rstd, Tensor dy,
        Tensor? dx, Tensor? dweight, Tensor? dbias);

    /// <summary>
    /// Root-mean-square normalisation of each row of x (rows, n): y = x * rstd * weight with
    /// rstd = 1 / sqrt(mean_j(x_j²) + eps). Writes rstd (rows) for backward. weight is optional.
    /// </summary>
    void RmsNorm(Tensor x, Tensor? weight, double eps, Tensor y, Tensor rstd);

    /// <summary>
    /// Backward of <see cref="RmsNorm"/>. With x̂ = x * rstd and g = dy * weight:
    /// dx = rstd * (g - x̂ * mean_j(g x̂)); dweight = Σ_rows dy x̂. Outputs that are null are skipped.
    /// </summary>
    void RmsNormBackward(Tensor x, Tensor? weight, Tensor rstd, Tensor dy, Tensor? dx, Tensor? dweight);

    /// <summary>
    /// y[i, :] = weight[ids[i], :] for weight (V, D), I64 ids (N) and y (N, D). An id outside [0, V) is an
    /// <see cref="ArgumentOutOfRangeException"/>.
    /// </summary>
    void Embedding(Tensor weight, Tensor ids, Tensor y);

    /// <summary>
    /// dweight[v, :] = Σ_{i : ids[i] = v} dy[i, :] for dy (N, D) into dweight (V, D), which the kernel overwrites
    /// completely (rows no id names become zero). Repeated ids are summed in order of i, without races.
    /// </summary>
    void EmbeddingBackward(Tensor ids, Tensor dy, Tensor dweight);

    /// <summary>
    /// Cross-entropy of each row of logits (N, C) against I64 targets (N), with label smoothing ε:
    /// loss_i = lse_i - (1 - ε) x_{i,t} - (ε / C) Σ_c x_{i,c}, where lse_i = log Σ_c exp(x_{i,c}).
    /// Writes loss (N) and lse (N); rows whose target equals <paramref name="ignoreIndex"/> get loss 0.
    /// Any other target outside [0, C) is an <see cref="ArgumentOutOfRangeException"/>.
    /// </summary>
    void CrossEntropy(Tensor logits, Tensor targets, long ignoreIndex, double labelSmoothing, Tensor loss, Tensor lse);

    /// <summary>
    /// Backward of <see cref="CrossEntropy"/>, recomputing the softmax from the logits and the saved lse:
    /// dx_{i,c} = dloss_i * (exp(x_{i,c} - lse_i) - (1 - ε) [c = t_i] - ε / C); zero on ignored rows.
    /// dloss and lse are (N); dlogits is (N, C).
    /// </summary>
    void CrossEntropyBackward(Tensor logits, Tensor targets, Tensor lse, Tensor dloss, long ignoreIndex,
        double labelSmoothing, Tensor dlogits);

    /// <summary>
    /// Rotary position embedding of x (…, T, D): the first R = 2 * cos.Shape[1] features of each row are
    /// rotated in pairs, pair k at position p = positionOffset + t by the angle θ_{p,k} whose cosine and sine are
    /// cos[p, k] and sin[p, k] (tables of shape (P, R/2)); features R.. D-1 are copied. Pair k is
    /// (2k, 2k+1) for <see cref="RopeStyle.Interleaved"/> and (k, k + R/2) for <see cref="RopeStyle.RotateHalf"/>:
    /// (a, b) -> (a cos - b sin, a sin + b cos). With <paramref name="inverse"/> the rotation is by -θ, which is
    /// the backward (a rotation's transpose is its inverse).
    /// </summary>
    void Rotary(Tensor x, Tensor cos, Tensor sin, int positionOffset, RopeStyle style, bool inverse, Tensor y);
}
