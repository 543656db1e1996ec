using PeftEngine.Nn;

namespace PeftEngine.Peft.Tuners;

/// <summary>
/// Finds one adapter's parameters in a layer that keeps each kind of adapter weight in its own per-adapter child
/// (<c>lora_A</c>, <c>adapter_down</c>, ...: an <see cref="AdapterDict{T}"/> or <see cref="AdapterParameterDict"/>
/// keyed by adapter name). The wrapped <c>base_layer</c> is never searched.
/// </summary>
/// <remarks>HF: the <c>adapter_layer_names</c> loop of BaseTunerLayer (set_adapter / _mark_only_adapters_as_trainable).
/// </remarks>
internal static class AdapterChildParameters
{
    /// <summary>The parameters of <paramref name="adapter"/>, named as in the layer's state dict
    /// (e.g. <c>lora_A.default.weight</c>, <c>lora_magnitude_vector.default</c>).</summary>
    public static IEnumerable<(string Name, Parameter Parameter)> Of(Module layer, string adapter)
    {
        foreach (var (dictName, child) in layer.NamedChildren())
        {
            if (dictName == "base_layer") continue;
            foreach (var (name, p) in child.NamedParameters())
                if (name == adapter || name.StartsWith(adapter + ".", StringComparison.Ordinal))
                    yield return (dictName + "." + name, p);
        }
    }

    /// <summary>Turns gradients of every parameter of <paramref name="adapter"/> on or off.</summary>
    public static void SetRequiresGrad(Module layer, string adapter, bool requiresGrad)
    {
        foreach (var (_, p) in Of(layer, adapter)) p.RequiresGrad = requiresGrad;
    }
}
