using PeftEngine.Nn;

namespace PeftEngine.Peft.Tuners;

/// <summary>
/// Trains a whole module (a classifier head, a norm) as a per-adapter copy: the original stays under
/// <c>original_module</c>, each adapter's trainable copy under <c>modules_to_save.&lt;adapter&gt;</c>, and the
/// forward pass runs the copy of the active adapter (or the original when disabled or when no active adapter has a
/// copy). In the file, a copy's parameters are saved under the original module's own key.
/// </summary>
/// <remarks>HF: peft.utils.other.ModulesToSaveWrapper (in-memory names
/// <c>classifier.modules_to_save.default.weight</c>, saved as <c>base_model.model.classifier.weight</c>).</remarks>
public sealed class ModulesToSaveWrapper : Module, ITunerLayer
{
    private readonly PeftRuntime _runtime;
    private List<string> _active = new();

    /// <summary>Wraps <paramref name="original"/>, which this wrapper now owns.</summary>
    public ModulesToSaveWrapper(Module original, PeftRuntime runtime)
    {
        _runtime = runtime;
        RegisterModule("original_module", original);
        RegisterModule("modules_to_save", new AdapterDict<Module>());
    }

    private AdapterDict<Module> Copies => (AdapterDict<Module>)GetChild("modules_to_save");

    /// <inheritdoc/>
    public Module BaseLayer => GetChild("original_module");

    /// <inheritdoc/>
    public IReadOnlyList<string> AdapterNames => Copies.Keys;

    /// <inheritdoc/>
    public IReadOnlyList<string> ActiveAdapters { get => _active; set => _active = value.ToList(); }

    /// <inheritdoc/>
    public bool Disabled { get; set; }

    /// <inheritdoc/>
    public IReadOnlyList<string> MergedAdapters => [];

    /// <summary>The copy of <paramref name="adapter"/>.</summary>
    public Module Copy(string adapter) => Copies[adapter];

    /// <summary>Adds a trainable copy of the original module for <paramref name="adapter"/>.</summary>
    public void AddAdapter(string adapter)
    {
        var copy = ModuleCloner.Clone(BaseLayer);
        copy.RequiresGrad(true);
        Copies.Add(adapter, copy);
    }

    private string? CurrentAdapter => Disabled ? null : _active.FirstOrDefault(Copies.ContainsKey);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x)
    {
        if (_runtime.SampleAdapters is not null && !Disabled)
        {
            _runtime.CheckBatch(x, "modules_to_save");
            // rows of every adapter are recomputed with its copy; the rest keep the original's output
            var result = BaseLayer.Forward(x);
            _runtime.ReplacePerGroup(x, result, Copies.ContainsKey, (name, sub) => Copies[name].Forward(sub));
            return result;
        }
        return CurrentAdapter is { } a ? Copies[a].Forward(x) : BaseLayer.Forward(x);
    }

    /// <summary>A copy is never merged; merging leaves it in place (merge_and_unload puts it in the original's place).</summary>
    public void Merge(IReadOnlyList<string> adapters, bool safeMerge) { }

    /// <inheritdoc/>
    public void CheckMergeIsFinite(IReadOnlyList<string> adapters) { }

    /// <inheritdoc/>
    public void Unmerge() { }

    /// <inheritdoc/>
    public void DeleteAdapter(string adapter)
    {
        Copies.Remove(adapter);
        _active.Remove(adapter);
    }

    /// <inheritdoc/>
    public void SetAdapterRequiresGrad(string adapter, bool requiresGrad)
    {
        if (Copies.ContainsKey(adapter)) Copies[adapter].RequiresGrad(requiresGrad);
    }

    /// <inheritdoc/>
    public IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter) =>
        Copies.ParametersOf(adapter, "modules_to_save");

    /// <summary>Detaches the module that should stand in the model after unloading: the active adapter's copy when
    /// <paramref name="keepActiveCopy"/> (merge_and_unload), otherwise the original. The caller owns it.</summary>
    public Module Release(bool keepActiveCopy)
    {
        string? a = keepActiveCopy ? CurrentAdapter : null;
        return a is null ? ReleaseBaseLayer() : Copies.Take(a);
    }

    /// <inheritdoc/>
    public Module ReleaseBaseLayer() => RemoveModule("original_module");
}
