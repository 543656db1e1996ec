using System.Collections;

namespace PeftEngine.Nn;

/// <summary>A list of modules named "0", "1", … (so paths read <c>layers.3.mlp</c>).</summary>
/// <remarks>PyTorch: torch.nn.ModuleList.</remarks>
public class ModuleList : Module, IReadOnlyList<Module>
{
    private readonly List<Module> _items = new();

    /// <summary>Creates the list from <paramref name="modules"/>.</summary>
    public ModuleList(params IEnumerable<Module> modules)
    {
        foreach (var m in modules) Add(m);
    }

    /// <summary>Appends a module under the next index.</summary>
    public void Add(Module module)
    {
        RegisterModule(_items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), module);
        _items.Add(module);
    }

    /// <summary>The module at <paramref name="index"/> (reflects <see cref="Module.ReplaceSubmodule"/>).</summary>
    public Module this[int index] => (uint)index < (uint)_items.Count
        ? GetChild(index.ToString(System.Globalization.CultureInfo.InvariantCulture))
        : throw new ArgumentOutOfRangeException(nameof(index), $"{GetType().Name}: index {index} outside [0, {_items.Count})");

    /// <inheritdoc/>
    public int Count => _items.Count;

    /// <inheritdoc/>
    public IEnumerator<Module> GetEnumerator()
    {
        for (int i = 0; i < Count; i++) yield return this[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>Modules applied one after the other, each to the previous one's output.</summary>
/// <remarks>PyTorch: torch.nn.Sequential.</remarks>
public sealed class Sequential(params IEnumerable<Module> modules) : ModuleList(modules)
{
    /// <summary>x -> m_n(… m_1(m_0(x))); intermediate results are disposed. An empty sequence returns a view of x.</summary>
    public override Tensor Forward(Tensor x)
    {
        Tensor? h = null;
        foreach (var m in this)
        {
            var next = m.Forward(h ?? x);
            h?.Dispose();
            h = next;
        }
        return h ?? Ops.View(x, x.Shape.ToArray());
    }
}

/// <summary>Modules by name, in insertion order.</summary>
/// <remarks>PyTorch: torch.nn.ModuleDict.</remarks>
public sealed class ModuleDict : Module, IEnumerable<KeyValuePair<string, Module>>
{
    private readonly List<string> _names = new();

    /// <summary>Adds a module under <paramref name="name"/>.</summary>
    public void Add(string name, Module module)
    {
        RegisterModule(name, module);
        _names.Add(name);
    }

    /// <summary>The module named <paramref name="name"/>.</summary>
    public Module this[string name] => GetChild(name);

    /// <summary>True when a module is registered under <paramref name="name"/>.</summary>
    public bool ContainsKey(string name) => _names.Contains(name);

    /// <summary>Number of modules.</summary>
    public int Count => _names.Count;

    /// <summary>Names in insertion order.</summary>
    public IReadOnlyList<string> Keys => _names;

    /// <inheritdoc/>
    public IEnumerator<KeyValuePair<string, Module>> GetEnumerator() =>
        _names.Select(n => new KeyValuePair<string, Module>(n, GetChild(n))).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
