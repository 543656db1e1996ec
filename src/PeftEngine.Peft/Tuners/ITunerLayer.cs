using PeftEngine.Nn;

namespace PeftEngine.Peft.Tuners;

/// <summary>
/// A module that a method put in place of a base module (injection point 1: LoRA wraps a Linear; also a
/// <see cref="ModulesToSaveWrapper"/>). It keeps the base module as a child, one set of weights per named adapter,
/// and answers the framework's calls: which adapters are active, disable, merge/unmerge, delete.
/// </summary>
/// <remarks>HF: peft.tuners.tuners_utils.BaseTunerLayer (active_adapters, disable_adapters, merged_adapters,
/// merge, unmerge, delete_adapter, get_base_layer).</remarks>
public interface ITunerLayer
{
    /// <summary>The wrapped module (HF get_base_layer()).</summary>
    Module BaseLayer { get; }

    /// <summary>The adapters that have weights in this layer, in the order they were added.</summary>
    IReadOnlyList<string> AdapterNames { get; }

    /// <summary>The adapters whose outputs are added in the forward pass (names without weights here are ignored).</summary>
    IReadOnlyList<string> ActiveAdapters { get; set; }

    /// <summary>When true the layer returns the base module's output (unmerging first if needed).</summary>
    bool Disabled { get; set; }

    /// <summary>The adapters currently folded into the base weights.</summary>
    IReadOnlyList<string> MergedAdapters { get; }

    /// <summary>Folds <paramref name="adapters"/> into the base weights. With <paramref name="safeMerge"/> the
    /// merged weights are checked for NaN/Inf first and nothing changes if any is found.</summary>
    void Merge(IReadOnlyList<string> adapters, bool safeMerge);

    /// <summary>Computes the weights a merge would produce (base module parameter name -> new value) and checks
    /// them, without changing anything; used by the model-wide two-phase safe merge.</summary>
    void CheckMergeIsFinite(IReadOnlyList<string> adapters);

    /// <summary>Restores the base weights by removing every merged adapter, last merged first.</summary>
    void Unmerge();

    /// <summary>Removes (and disposes) the weights of <paramref name="adapter"/>.</summary>
    void DeleteAdapter(string adapter);

    /// <summary>Sets requires-grad on every parameter of <paramref name="adapter"/> in this layer.</summary>
    void SetAdapterRequiresGrad(string adapter, bool requiresGrad);

    /// <summary>The parameters of <paramref name="adapter"/> with their paths relative to this layer
    /// (e.g. <c>lora_A.default.weight</c>).</summary>
    IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter);

    /// <summary>Detaches and returns the base module (the caller owns it); this layer's adapter weights are
    /// disposed with the layer.</summary>
    Module ReleaseBaseLayer();
}
