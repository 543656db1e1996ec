namespace PeftEngine;

/// <summary>
/// Fused optimizer updates: one pass over a parameter, its gradient and its optimizer state, changing the
/// parameter and the state in place. The optimizer classes call these once per parameter per step.
/// </summary>
/// <remarks>
/// Every tensor passed here is contiguous (the ops in <c>Ops/OptimizerSteps.cs</c> make copies of strided
/// arguments and write them back) and all have the same shape and the same compute dtype (F32 or F64).
/// Scalars arrive as doubles; a fast kernel may round them to the compute dtype once per call.
/// </remarks>
public partial interface IBackend
{
    /// <summary>
    /// One AdamW step (Loshchilov and Hutter's decoupled weight decay), for every element i:
    /// <code>
    /// g = maximize ? -grad : grad
    /// p = p * (1 - lr * weightDecay)
    /// m = beta1 * m + (1 - beta1) * g
    /// v = beta2 * v + (1 - beta2) * g²
    /// p = p - lr * (m / (1 - beta1^step)) / (sqrt(v / (1 - beta2^step)) + eps)
    /// </code>
    /// with m = <paramref name="expAvg"/> and v = <paramref name="expAvgSq"/>. <paramref name="step"/> counts
    /// from 1 (the first update uses step = 1).
    /// </summary>
    void AdamWStep(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, double lr, double beta1,
        double beta2, double eps, double weightDecay, long step, bool maximize);

    /// <summary>
    /// One SGD step with optional momentum (PyTorch's formulation), for every element i:
    /// <code>
    /// g = (maximize ? -grad : grad) + weightDecay * p
    /// if momentumBuffer given:  b = initializeBuffer ? g : momentum * b + (1 - dampening) * g
    ///                           g = nesterov ? g + momentum * b : b
    /// p = p - lr * g
    /// </code>
    /// <paramref name="momentumBuffer"/> is null when momentum is 0. <paramref name="initializeBuffer"/> is true
    /// on the first step, when the buffer's old contents are ignored and it becomes g itself (no dampening).
    /// </summary>
    void SgdStep(Tensor param, Tensor grad, Tensor? momentumBuffer, double lr, double momentum, double dampening,
        bool nesterov, double weightDecay, bool maximize, bool initializeBuffer);
}
