using PeftEngine.Nn;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft;

public sealed partial class PeftModel
{
    /// <summary>Every tuner layer of the model with its path.</summary>
    public IEnumerable<(string Path, ITunerLayer Layer)> TunerLayers() => ModuleTuner.Layers(Model);

    /// <summary>Adds a new, inactive adapter. On any error (targets not found, bad rank, a name already used) the
    /// model is left unchanged.</summary>
    /// <remarks>HF: PeftModel.add_adapter(adapter_name, peft_config).</remarks>
    public void AddAdapter(string adapterName, PeftConfig config, Generator? generator = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(adapterName);
        ArgumentNullException.ThrowIfNull(config);
        if (adapterName.Contains('.') || adapterName == PeftRuntime.BaseName)
            throw new ArgumentException($"PeftModel.AddAdapter: adapter name \"{adapterName}\" must not contain '.' nor be \"{PeftRuntime.BaseName}\"");
        if (_configs.ContainsKey(adapterName))
            throw new ArgumentException($"Adapter with name {adapterName} already exists.");
        if (HasPromptAdapters && config is not Prompt.PromptLearningConfig)
            throw new ArgumentException($"Cannot combine adapters with different peft types. Found {_configs.Values.First().PeftType} and {config.PeftType}.");
        if (!_tuners.TryGetValue(config.PeftType, out var tuner))
            tuner = PeftMethods.Create(config.PeftType);
        if (tuner is Prompt.PromptLearningTuner promptTuner) promptTuner.Bind(PromptEncoders, PromptableLm);
        var adapted = tuner.Prepare(Model, config, _configs.Values.ToList(), _languageModel?.VocabSize);
        tuner.Inject(Model, adapterName, adapted, Runtime, generator);
        _tuners[config.PeftType] = tuner;
        _configs.Add(adapterName, adapted);
        foreach (var (_, layer) in TunerLayers())
            layer.ActiveAdapters = _active.Where(layer.AdapterNames.Contains).ToList();
        UpdateRequiresGrad();
    }

    /// <summary>Makes <paramref name="adapterNames"/> the active adapters (several: their outputs are summed).
    /// Only active adapters (and their modules_to_save copies) train.</summary>
    /// <remarks>HF: PeftModel.set_adapter(name) / base_model.set_adapter([a, b]).</remarks>
    public void SetAdapter(params string[] adapterNames)
    {
        foreach (var n in adapterNames)
            if (!_configs.ContainsKey(n)) throw new ArgumentException($"Adapter {n} not found. Known adapters: {string.Join(", ", _configs.Keys)}");
        if (adapterNames.Distinct().Count() > 1 && adapterNames.Any(n => _configs[n] is Prompt.PromptLearningConfig))
            throw new NotSupportedException("Prompt-learning adapters are active one at a time: pass a single adapter name");
        _active = adapterNames.Distinct().ToList();
        foreach (var (_, layer) in TunerLayers())
        {
            if (layer.MergedAdapters.Count > 0)
            {
                PeftWarnings.Warn("Adapter cannot be set when the model is merged. Unmerging the model first.");
                layer.Unmerge();
            }
            layer.ActiveAdapters = _active.Where(layer.AdapterNames.Contains).ToList();
        }
        UpdateRequiresGrad();
    }

    /// <summary>Freezes the base model and makes exactly the active adapters' parameters (and the biases their
    /// configs train) require gradients; adapters in inference mode stay frozen.</summary>
    /// <remarks>HF: _mark_only_adapters_as_trainable + set_adapter's requires_grad handling.</remarks>
    private void UpdateRequiresGrad()
    {
        foreach (var p in Model.Parameters()) p.RequiresGrad = false;
        foreach (var (_, layer) in TunerLayers())
            foreach (var a in layer.AdapterNames)
                layer.SetAdapterRequiresGrad(a, _active.Contains(a) && !_configs[a].InferenceMode);
        foreach (var a in _active)
            if (!_configs[a].InferenceMode)
                foreach (var p in _tuners[_configs[a].PeftType].ExtraTrainable(Model, _configs[a])) p.RequiresGrad = true;
        foreach (var (name, config) in _configs)
            if (_tuners[config.PeftType] is Prompt.PromptLearningTuner prompt)
                prompt.SetRequiresGrad(name, _active.Contains(name) && !config.InferenceMode);
    }

    /// <summary>A scope in which every adapter is off and the model computes the base output; leaving the scope
    /// restores the previous state.</summary>
    /// <remarks>HF: <c>with model.disable_adapter():</c>.</remarks>
    public IDisposable DisableAdapter()
    {
        var layers = TunerLayers().Select(l => l.Layer).ToList();
        var previous = layers.Select(l => l.Disabled).ToList();
        bool promptWasDisabled = _promptDisabled;
        foreach (var l in layers) l.Disabled = true;
        _promptDisabled = true;
        return new Restore(() =>
        {
            for (int i = 0; i < layers.Count; i++) layers[i].Disabled = previous[i];
            _promptDisabled = promptWasDisabled;
        });
    }

    private sealed class Restore(Action action) : IDisposable
    {
        private Action? _action = action;

        public void Dispose()
        {
            _action?.Invoke();
            _action = null;
        }
    }

    /// <summary>Deletes an adapter and its weights everywhere; an active adapter leaves the active list.</summary>
    /// <remarks>HF: PeftModel.delete_adapter(name) ("Adapter X does not exist").</remarks>
    public void DeleteAdapter(string adapterName)
    {
        if (!_configs.TryGetValue(adapterName, out var config)) throw new ArgumentException($"Adapter {adapterName} does not exist");
        foreach (var (path, layer) in TunerLayers())
            if (layer.MergedAdapters.Contains(adapterName))
                throw new InvalidOperationException($"Cannot delete adapter {adapterName}: it is merged into '{path}'; unmerge first");
        _tuners[config.PeftType].Delete(Model, adapterName);
        _configs.Remove(adapterName);
        _active.Remove(adapterName);
        RemoveEmptyLayers();
        UpdateRequiresGrad();
    }

    /// <summary>Puts back the base module of every tuner layer that no adapter uses any more.</summary>
    private void RemoveEmptyLayers()
    {
        foreach (var (path, layer) in TunerLayers().Reverse())
            if (layer.AdapterNames.Count == 0 && layer is IAttachedTunerLayer) Model.RemoveSubmodule(path).Dispose();
            else if (layer.AdapterNames.Count == 0)
            {
                var original = layer.ReleaseBaseLayer();
                Model.ReplaceSubmodule(path, original);
                ((Module)layer).Dispose();
            }
    }

    /// <summary>Sets requires-grad of the parameters of <paramref name="adapterNames"/>.</summary>
    /// <remarks>HF: PeftModel.set_requires_grad(adapter_names, requires_grad).</remarks>
    public void SetRequiresGrad(IEnumerable<string> adapterNames, bool requiresGrad = true)
    {
        foreach (var a in adapterNames)
        {
            if (!_configs.ContainsKey(a)) throw new ArgumentException($"Adapter {a} does not exist");
            foreach (var (_, layer) in TunerLayers()) layer.SetAdapterRequiresGrad(a, requiresGrad);
        }
    }
}
