namespace PeftEngine;

/// <summary>
/// Fused in-place optimizer updates for one parameter: AdamW and SGD with momentum. The optimizer classes call
/// these once per parameter per step; each runs one kernel pass over the parameter, its gradient and its state.
/// </summary>
/// <remarks>
/// These change tensors in place and record nothing in the graph. They may run while GradMode is enabled only
/// when every tensor they write is a leaf (a parameter, or state the optimizer made itself): changing a tensor
/// that is the output of a recorded op would corrupt that graph. Each written tensor's storage version is
/// bumped, so a backward pass that saved the old values fails loudly instead of using the new ones.
/// </remarks>
public static partial class Ops
{
    /// <summary>
    /// One AdamW step on <paramref name="param"/>, updating it and its moment estimates
    /// <paramref name="expAvg"/> (m) and <paramref name="expAvgSq"/> (v) in place:
    /// p ← p(1 - lr·wd); m ← β1·m + (1-β1)·g; v ← β2·v + (1-β2)·g²;
    /// p ← p - lr · (m / (1-β1^step)) / (sqrt(v / (1-β2^step)) + eps).
    /// </summary>
    /// <param name="param">The parameter (f32 or f64).</param>
    /// <param name="grad">Its gradient: same shape and dtype.</param>
    /// <param name="expAvg">First-moment state, same shape and dtype; zeros before the first step.</param>
    /// <param name="expAvgSq">Second-moment state, same shape and dtype; zeros before the first step.</param>
    /// <param name="lr">Learning rate (≥ 0).</param>
    /// <param name="beta1">Decay of the first moment, in [0, 1).</param>
    /// <param name="beta2">Decay of the second moment, in [0, 1).</param>
    /// <param name="eps">Added to the denominator (≥ 0).</param>
    /// <param name="weightDecay">Decoupled weight decay (≥ 0).</param>
    /// <param name="step">The number of this step, counting from 1.</param>
    /// <param name="maximize">Step up the gradient instead of down.</param>
    /// <remarks>PyTorch: one parameter's update inside <c>torch.optim.AdamW.step()</c> (amsgrad=False), i.e.
    /// <c>torch._fused_adamw_</c> for a single tensor.</remarks>
    public static void AdamWStepInPlace(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq,
        double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0.01,
        long step = 1, bool maximize = false)
    {
        const string op = "AdamWStepInPlace";
        CheckOptimizerTensors(op, param, grad, ("expAvg", expAvg), ("expAvgSq", expAvgSq));
        if (!(lr >= 0)) throw new ArgumentOutOfRangeException(nameof(lr), lr, $"{op}: learning rate must be >= 0");
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, $"{op}: beta1 must be in [0, 1)");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, $"{op}: beta2 must be in [0, 1)");
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, $"{op}: eps must be >= 0");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, $"{op}: weight decay must be >= 0");
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), step, $"{op}: step counts from 1");

        using var g = ContiguousNoGrad(grad);
        using var p = ContiguousNoGrad(param);
        using var m = ContiguousNoGrad(expAvg);
        using var v = ContiguousNoGrad(expAvgSq);
        param.Backend.AdamWStep(p, g, m, v, lr, beta1, beta2, eps, weightDecay, step, maximize);
        WriteBack(p, param);
        WriteBack(m, expAvg);
        WriteBack(v, expAvgSq);
    }

    /// <summary>
    /// One SGD step on <paramref name="param"/> in place: g ← grad + wd·p; with momentum μ &gt; 0,
    /// b ← μ·b + (1-dampening)·g (or b ← g on the first step) and g ← nesterov ? g + μ·b : b; then p ← p - lr·g.
    /// </summary>
    /// <param name="param">The parameter (f32 or f64).</param>
    /// <param name="grad">Its gradient: same shape and dtype.</param>
    /// <param name="momentumBuffer">The momentum state, same shape and dtype; required when momentum &gt; 0,
    /// ignored when it is 0.</param>
    /// <param name="lr">Learning rate (≥ 0).</param>
    /// <param name="momentum">Momentum factor μ (≥ 0).</param>
    /// <param name="dampening">Dampening of the gradient added to the buffer.</param>
    /// <param name="nesterov">Nesterov momentum (needs μ &gt; 0 and no dampening).</param>
    /// <param name="weightDecay">L2 penalty added to the gradient (≥ 0).</param>
    /// <param name="maximize">Step up the gradient instead of down.</param>
    /// <param name="initializeBuffer">True on the first step: the buffer's contents are ignored and it is set
    /// to g, as PyTorch does when it creates the buffer.</param>
    /// <remarks>PyTorch: one parameter's update inside <c>torch.optim.SGD.step()</c>.</remarks>
    public static void SgdStepInPlace(Tensor param, Tensor grad, Tensor? momentumBuffer, double lr,
        double momentum = 0, double dampening = 0, bool nesterov = false, double weightDecay = 0,
        bool maximize = false, bool initializeBuffer = false)
    {
        const string op = "SgdStepInPlace";
        if (!(lr >= 0)) throw new ArgumentOutOfRangeException(nameof(lr), lr, $"{op}: learning rate must be >= 0");
        if (!(momentum >= 0)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"{op}: momentum must be >= 0");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, $"{op}: weight decay must be >= 0");
        if (nesterov && (momentum <= 0 || dampening != 0))
            throw new ArgumentException($"{op}: Nesterov momentum needs momentum > 0 and dampening 0 (got momentum {momentum}, dampening {dampening})");
        if (momentum > 0 && momentumBuffer is null)
            throw new ArgumentNullException(nameof(momentumBuffer), $"{op}: momentum {momentum} needs a momentum buffer shaped like the parameter {param.Shape}");
        var buffer = momentum > 0 ? momentumBuffer : null;
        if (buffer is null) CheckOptimizerTensors(op, param, grad);
        else CheckOptimizerTensors(op, param, grad, ("momentumBuffer", buffer));

        using var g = ContiguousNoGrad(grad);
        using var p = ContiguousNoGrad(param);
        using var b = buffer is null ? null : ContiguousNoGrad(buffer);
        param.Backend.SgdStep(p, g, b, lr, momentum, dampening, nesterov, weightDecay, maximize, initializeBuffer);
        WriteBack(p, param);
        if (b is not null) WriteBack(b, buffer!);
    }

    /// <summary>Checks the parameter, its gradient and each state tensor: not disposed, one device, one shape,
    /// one compute dtype, and safe to change in place.</summary>
    private static void CheckOptimizerTensors(string op, Tensor param, Tensor grad, params (string Name, Tensor T)[] state)
    {
        param.ThrowIfDisposed("param");
        grad.ThrowIfDisposed("grad");
        DTypes.RequireCompute(param, op);
        CheckOptimizerTensor(op, param, "grad", grad, written: false);
        CheckWritable(op, "param", param);
        foreach (var (name, t) in state)
        {
            t.ThrowIfDisposed(name);
            CheckOptimizerTensor(op, param, name, t, written: true);
        }
    }

    private static void CheckOptimizerTensor(string op, Tensor param, string name, Tensor t, bool written)
    {
        CheckSameDevice(param, t, op);
        if (t.Shape != param.Shape)
            throw new ArgumentException($"{op}: {name} has shape {t.Shape} but the parameter has shape {param.Shape}");
        if (t.DType != param.DType)
            throw new ArgumentException($"{op}: {name} is {t.DType.Name()} but the parameter is {param.DType.Name()}; keep the gradient and optimizer state in the parameter's dtype");
        if (written) CheckWritable(op, name, t);
    }

    private static void CheckWritable(string op, string name, Tensor t)
    {
        if (GradMode.IsEnabled && !t.IsLeaf)
            throw new InvalidOperationException($"{op}: {name} {t.Shape} is the output of a recorded op ({t.GradFn!.Name}); an in-place update would corrupt its graph. Update leaves only, or run under GradMode.Disable()");
    }

    /// <summary>Bumps the version of an updated tensor, first copying the result back when the kernel worked
    /// on a contiguous copy of a strided view.</summary>
    private static void WriteBack(Tensor updated, Tensor target)
    {
        if (updated.Storage != target.Storage) target.Backend.Copy(updated, target);
        target.Storage.BumpVersion();
    }
}
