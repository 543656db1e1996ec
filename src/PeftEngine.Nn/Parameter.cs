namespace PeftEngine.Nn;

/// <summary>
/// A trainable tensor owned by a <see cref="Module"/>: a thin holder around a leaf <see cref="Tensor"/> that
/// requires grad. The holder, not the tensor, is what a module registers, so that casting a model
/// (<see cref="Module.To(DType)"/>) or an optimizer swapping storage can replace <see cref="Data"/> while
/// every layer, optimizer and state dict that refers to the parameter keeps seeing the current tensor.
/// </summary>
/// <remarks>PyTorch: torch.nn.Parameter (a Tensor subclass; here a wrapper, since Tensor is sealed). The
/// implicit conversion to <see cref="Tensor"/> lets a parameter be passed straight to an op:
/// <c>Ops.Linear(x, Weight, Bias?.Data)</c>. A parameter's tensor belongs to no <see cref="TensorScope"/>: it
/// lives until the parameter (or its module) is disposed.</remarks>
public sealed class Parameter : IDisposable
{
    private Tensor _data;

    /// <summary>Wraps <paramref name="data"/> (taking ownership) and marks it as requiring grad when asked.</summary>
    public Parameter(Tensor data, bool requiresGrad = true)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!data.IsLeaf)
            throw new ArgumentException($"Parameter: data {data.Shape} was made by {data.GradFn!.Name}; pass a leaf (use Detach())");
        _data = TensorScope.Detach(data);
        if (requiresGrad) _data.RequiresGrad = true;
    }

    /// <summary>The current tensor. Setting it replaces the tensor (the caller disposes the old one); the new
    /// tensor takes over the RequiresGrad flag of the old.</summary>
    public Tensor Data
    {
        get => _data;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (!value.IsLeaf) throw new ArgumentException($"Parameter: new data {value.Shape} must be a leaf");
            bool requires = _data.RequiresGrad;
            _data = TensorScope.Detach(value);
            _data.RequiresGrad = requires && value.DType.IsFloat();
        }
    }

    /// <summary>Whether the optimizer trains this parameter (false = frozen).</summary>
    /// <remarks>PyTorch: param.requires_grad.</remarks>
    public bool RequiresGrad
    {
        get => _data.RequiresGrad;
        set => _data.RequiresGrad = value;
    }

    /// <summary>The accumulated gradient, or null before backward / after <see cref="ZeroGrad"/>.</summary>
    public Tensor? Grad
    {
        get => _data.Grad;
        set => _data.Grad = value;
    }

    /// <summary>Shape of the data.</summary>
    public Shape Shape => _data.Shape;

    /// <summary>Element type of the data.</summary>
    public DType DType => _data.DType;

    /// <summary>Number of elements.</summary>
    public long Numel => _data.Numel;

    /// <summary>Disposes and forgets the gradient.</summary>
    /// <remarks>PyTorch: param.grad = None (optimizer.zero_grad(set_to_none=True)).</remarks>
    public void ZeroGrad() => _data.ZeroGrad();

    /// <summary>The data tensor, so a parameter can be passed where a tensor is expected.</summary>
    public static implicit operator Tensor(Parameter p) => p._data;

    /// <summary>Disposes the data and its gradient.</summary>
    public void Dispose()
    {
        _data.ZeroGrad();
        _data.Dispose();
    }

    /// <inheritdoc/>
    public override string ToString() => $"Parameter({Shape}, {DType.Name()}, requiresGrad={RequiresGrad})";
}
