namespace PeftEngine;

/// <summary>
/// Frees every tensor created inside a using-block, except those kept. One scope per training step keeps
/// memory flat: activations, gradients of intermediates and temporaries all go back to the allocator at the
/// end of the block.
/// </summary>
/// <example><code>
/// using (var scope = TensorScope.Begin())
/// {
///     var loss = model.Forward(x).Mean();
///     loss.Backward();
///     lossValue = scope.Keep(loss.Detach()).Item();   // survives the scope (moved to the outer one)
/// }
/// </code></example>
/// <remarks>TorchSharp: DisposeScope. Scopes nest per thread; a kept tensor moves to the enclosing scope, or
/// to no scope at all when there is none.</remarks>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? _current;
    private readonly List<Tensor> _owned = new();
    private readonly TensorScope? _parent;
    private bool _disposed;

    private TensorScope(TensorScope? parent) => _parent = parent;

    /// <summary>The innermost open scope on this thread, or null.</summary>
    public static TensorScope? Current => _current;

    /// <summary>Opens a scope; every tensor created on this thread until it is disposed belongs to it.</summary>
    public static TensorScope Begin()
    {
        var scope = new TensorScope(_current);
        _current = scope;
        return scope;
    }

    /// <summary>Number of tensors the scope will free.</summary>
    public int Count => _owned.Count(t => t.Scope == this && !t.IsDisposed);

    internal static void Register(Tensor t)
    {
        var scope = _current;
        if (scope is null) return;
        t.Scope = scope;
        scope._owned.Add(t);
    }

    /// <summary>Moves <paramref name="t"/> out of this scope into the enclosing one (or none), so that it
    /// survives this scope's end. Returns <paramref name="t"/>.</summary>
    public Tensor Keep(Tensor t)
    {
        if (t.Scope != this) return t;
        t.Scope = null;
        if (_parent is not null)
        {
            t.Scope = _parent;
            _parent._owned.Add(t);
        }
        return t;
    }

    /// <summary>Removes <paramref name="t"/> from whatever scope owns it: it lives until disposed by hand.</summary>
    public static Tensor Detach(Tensor t)
    {
        t.Scope = null;
        return t;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var t in _owned)
            if (t.Scope == this) t.Dispose();
        _owned.Clear();
        if (_current == this) _current = _parent;
        else throw new InvalidOperationException("TensorScope disposed out of order: inner scopes must end before outer ones");
    }
}
