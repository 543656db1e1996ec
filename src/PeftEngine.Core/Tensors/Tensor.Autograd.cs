namespace PeftEngine;

public sealed partial class Tensor
{
    private bool _requiresGrad;

    /// <summary>
    /// True when gradients flow to or through this tensor. Set it on leaves (parameters); results of ops
    /// inherit it from their inputs while <see cref="GradMode"/> is enabled.
    /// </summary>
    public bool RequiresGrad
    {
        get => _requiresGrad;
        set
        {
            if (GradFn is not null && !value)
                throw new InvalidOperationException($"RequiresGrad can only be cleared on a leaf; this tensor {Shape} was made by {GradFn.Name}: use Detach()");
            if (value && !DType.IsFloat())
                throw new InvalidOperationException($"only floating-point tensors can require gradients, not {DType.Name()} {Shape}");
            _requiresGrad = value;
        }
    }

    internal bool RequiresGradInternal { set => _requiresGrad = value; }

    /// <summary>The accumulated gradient of a leaf after <see cref="Backward"/>; null before.</summary>
    public Tensor? Grad { get; set; }

    /// <summary>The node that produced this tensor, or null for a leaf.</summary>
    public GradNode? GradFn { get; internal set; }

    /// <summary>True for tensors no recorded op produced (inputs, parameters).</summary>
    public bool IsLeaf => GradFn is null;

    /// <summary>Back-propagates from this tensor; see <see cref="Engine.Backward"/>.</summary>
    public void Backward(Tensor? gradient = null, bool retainGraph = false) => Engine.Backward(this, gradient, retainGraph);

    /// <summary>A view of the same data cut from the graph: no GradFn and no RequiresGrad.</summary>
    public Tensor Detach() => Alias();

    /// <summary>Marks this tensor as a trainable leaf and returns it.</summary>
    public Tensor RequireGrad(bool value = true)
    {
        RequiresGrad = value;
        return this;
    }

    /// <summary>Disposes and forgets the gradient.</summary>
    public void ZeroGrad()
    {
        Grad?.Dispose();
        Grad = null;
    }
}
