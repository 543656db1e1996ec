using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace PeftEngine.Nn;

/// <summary>
/// An ordered map from dotted names (<c>model.layers.0.self_attn.q_proj.weight</c>) to tensors. It owns its
/// tensors: disposing the state dict disposes them.
/// </summary>
/// <remarks>PyTorch: the OrderedDict returned by module.state_dict(). Tensors put here by
/// <see cref="Module.StateDict"/> are detached views sharing storage with the module's parameters, as in
/// PyTorch; clone them if the copy must outlive changes to the model.</remarks>
public sealed class StateDict : IReadOnlyDictionary<string, Tensor>, IDisposable
{
    private readonly OrderedDictionary<string, Tensor> _items = new();

    /// <summary>Adds an entry (taking ownership of the tensor); an error if the name is taken.</summary>
    public void Add(string name, Tensor tensor)
    {
        if (!_items.TryAdd(name, tensor))
            throw new ArgumentException($"StateDict: duplicate key \"{name}\"");
    }

    /// <summary>Removes an entry and returns its tensor (now owned by the caller), or null.</summary>
    public Tensor? Remove(string name) => _items.Remove(name, out var t) ? t : null;

    /// <inheritdoc/>
    public Tensor this[string key] => _items.TryGetValue(key, out var t) ? t
        : throw new KeyNotFoundException($"StateDict: no key \"{key}\"");

    /// <inheritdoc/>
    public IEnumerable<string> Keys => _items.Keys;

    /// <inheritdoc/>
    public IEnumerable<Tensor> Values => _items.Values;

    /// <inheritdoc/>
    public int Count => _items.Count;

    /// <inheritdoc/>
    public bool ContainsKey(string key) => _items.ContainsKey(key);

    /// <inheritdoc/>
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out Tensor value) => _items.TryGetValue(key, out value);

    /// <inheritdoc/>
    public IEnumerator<KeyValuePair<string, Tensor>> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Disposes every tensor.</summary>
    public void Dispose()
    {
        foreach (var t in _items.Values) t.Dispose();
        _items.Clear();
    }
}

/// <summary>The keys a non-strict <see cref="Module.LoadStateDict"/> could not match.</summary>
/// <param name="MissingKeys">Names the module has but the dictionary lacks.</param>
/// <param name="UnexpectedKeys">Names in the dictionary the module does not have.</param>
/// <remarks>PyTorch: the _IncompatibleKeys named tuple (missing_keys, unexpected_keys).</remarks>
public sealed record LoadResult(IReadOnlyList<string> MissingKeys, IReadOnlyList<string> UnexpectedKeys);
