namespace PeftEngine;

/// <summary>
/// One recorded operation in the autograd graph: it knows its inputs and how to turn the gradient of its
/// output into gradients of those inputs. Each op family defines its nodes next to its forward code.
/// </summary>
/// <remarks>
/// PyTorch: grad_fn / torch.autograd.Function. <see cref="Inputs"/> holds only the inputs that need a gradient
/// (others are null), so a frozen weight gets no gradient and its node saves nothing for it.
/// </remarks>
public abstract class GradNode
{
    private readonly List<SavedTensor> _saved = new();

    /// <summary>The op's inputs; null where the input needs no gradient.</summary>
    public Tensor?[] Inputs { get; internal set; } = [];

    /// <summary>True once backward has run and released the saved tensors (without retainGraph).</summary>
    public bool IsReleased { get; private set; }

    /// <summary>A short name for messages ("MatMul").</summary>
    public virtual string Name => GetType().Name.Replace("Node", "");

    /// <summary>True when input <paramref name="i"/> needs a gradient.</summary>
    protected bool NeedsGrad(int i) => i < Inputs.Length && Inputs[i] is not null;

    /// <summary>
    /// Given the gradient of the output, returns one gradient per input (null where not needed). Returned
    /// tensors belong to the engine, which disposes them: return a new tensor, never <paramref name="gradOutput"/>
    /// itself (use <c>gradOutput.Alias()</c> to pass it through). Shapes may be broadcast shapes: the engine sums
    /// them down to each input's shape.
    /// </summary>
    public abstract Tensor?[] Backward(Tensor gradOutput);

    /// <summary>Keeps <paramref name="t"/> for backward: a private view that survives the caller disposing
    /// its own tensor, with the storage version recorded.</summary>
    protected SavedTensor Save(Tensor t)
    {
        var s = new SavedTensor(t, this);
        _saved.Add(s);
        return s;
    }

    /// <summary>Frees the saved tensors; later use of this node is an error.</summary>
    internal void Release()
    {
        foreach (var s in _saved) s.Dispose();
        _saved.Clear();
        IsReleased = true;
    }
}

/// <summary>A tensor kept by a <see cref="GradNode"/> for its backward, with the storage version at save time.</summary>
public sealed class SavedTensor : IDisposable
{
    private readonly Tensor _view;
    private readonly int _version;
    private readonly GradNode _owner;

    internal SavedTensor(Tensor t, GradNode owner)
    {
        t.ThrowIfDisposed("saved tensor");
        _view = t.Alias();
        _version = t.Storage.Version;
        _owner = owner;
    }

    /// <summary>The saved tensor, after checking it is still alive and unchanged.</summary>
    public Tensor Value
    {
        get
        {
            if (_owner.IsReleased || _view.IsDisposed)
                throw new InvalidOperationException(
                    $"backward through {_owner.Name} a second time, or after its graph was freed: its saved tensors are gone. " +
                    "Call Backward(retainGraph: true) the first time if you need to run backward twice.");
            if (_view.Storage.Version != _version)
                throw new InvalidOperationException(
                    $"a tensor {_view.Shape} saved by {_owner.Name} for backward was modified in place (version {_version} -> {_view.Storage.Version}); " +
                    "clone it before changing it, or change it under GradMode.Disable() only when no graph uses it.");
            return _view;
        }
    }

    public void Dispose() => _view.Dispose();
}
