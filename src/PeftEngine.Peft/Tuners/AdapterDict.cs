using PeftEngine.Nn;

namespace PeftEngine.Peft.Tuners;

/// <summary>
/// Per-adapter child modules keyed by adapter name (<c>lora_A.default</c>, <c>lora_A.other</c>), with removal so an
/// adapter can be deleted.
/// </summary>
/// <remarks>PyTorch: torch.nn.ModuleDict as PEFT uses it for lora_A / lora_B / lora_dropout.</remarks>
public sealed class AdapterDict<T> : Module where T : Module
{
    private readonly List<string> _names = new();

    /// <summary>Adds <paramref name="module"/> for <paramref name="adapter"/>.</summary>
    public void Add(string adapter, T module)
    {
        RegisterModule(adapter, module);
        _names.Add(adapter);
    }

    /// <summary>The module of <paramref name="adapter"/>.</summary>
    public T this[string adapter] => (T)GetChild(adapter);

    /// <summary>True when <paramref name="adapter"/> has a module here.</summary>
    public bool ContainsKey(string adapter) => _names.Contains(adapter);

    /// <summary>Adapter names in insertion order.</summary>
    public IReadOnlyList<string> Keys => _names;

    /// <summary>Removes and disposes the module of <paramref name="adapter"/> (no-op when absent).</summary>
    public void Remove(string adapter)
    {
        if (!_names.Remove(adapter)) return;
        RemoveModule(adapter).Dispose();
    }

    /// <summary>Removes the module of <paramref name="adapter"/> without disposing it and returns it (the caller owns it).</summary>
    public T Take(string adapter)
    {
        if (!_names.Remove(adapter)) throw new KeyNotFoundException($"AdapterDict: no module for adapter \"{adapter}\"");
        return (T)RemoveModule(adapter);
    }

    /// <summary>The parameters of <paramref name="adapter"/>'s module named as in the owning layer's state dict,
    /// <c>{dictName}.{adapter}.{name}</c> (e.g. <c>modules_to_save.default.weight</c>); empty when it has none here.
    /// </summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> ParametersOf(string adapter, string dictName) =>
        ContainsKey(adapter)
            ? this[adapter].NamedParameters().Select(np => ($"{dictName}.{adapter}.{np.Name}", np.Parameter)).ToList()
            : [];
}

/// <summary>Per-adapter parameters keyed by adapter name (<c>lora_embedding_A.default</c>), with removal.</summary>
/// <remarks>PyTorch: torch.nn.ParameterDict as PEFT uses it for lora_embedding_A / lora_embedding_B.</remarks>
public sealed class AdapterParameterDict : Module
{
    private readonly List<string> _names = new();

    /// <summary>Adds <paramref name="parameter"/> for <paramref name="adapter"/>.</summary>
    public void Add(string adapter, Parameter parameter)
    {
        RegisterParameter(adapter, parameter);
        _names.Add(adapter);
    }

    /// <summary>The parameter of <paramref name="adapter"/>.</summary>
    public Parameter this[string adapter] => GetParameter(adapter)!;

    /// <summary>True when <paramref name="adapter"/> has a parameter here.</summary>
    public bool ContainsKey(string adapter) => _names.Contains(adapter);

    /// <summary>Adapter names in insertion order.</summary>
    public IReadOnlyList<string> Keys => _names;

    /// <summary>Removes and disposes the parameter of <paramref name="adapter"/> (no-op when absent).</summary>
    public void Remove(string adapter)
    {
        if (!_names.Remove(adapter)) return;
        RemoveParameter(adapter)?.Dispose();
    }
}

/// <summary>A module holding one parameter named <c>weight</c> (e.g. DoRA's magnitude vector).</summary>
/// <remarks>HF: the <c>lora_magnitude_vector[adapter]</c> DoraLinearLayer, whose only parameter is <c>weight</c>.</remarks>
public sealed class WeightHolder : Module
{
    /// <summary>Takes ownership of <paramref name="weight"/>.</summary>
    public WeightHolder(Tensor weight) => RegisterParameter("weight", weight);

    /// <summary>The parameter.</summary>
    public Parameter Weight => GetParameter("weight")!;
}
