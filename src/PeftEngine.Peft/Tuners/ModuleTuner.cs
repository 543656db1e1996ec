using PeftEngine.Nn;

namespace PeftEngine.Peft.Tuners;

/// <summary>
/// The shared machinery of every method that adapts chosen modules in place (DESIGN.md §3 points 1, 2, 5, 7): find the
/// targets with HF's rules, wrap each in the method's <see cref="ITunerLayer"/> (or add the adapter to the layer that
/// already wraps it), wrap <c>modules_to_save</c>, and name the weights for the file. A method supplies only
/// <see cref="CanAdapt"/>, <see cref="CreateLayer"/> and <see cref="AddToLayer"/>.
/// </summary>
/// <remarks>HF: BaseTuner.inject_adapter / _create_and_replace / _replace_module and
/// get_peft_model_state_dict.</remarks>
public abstract class ModuleTuner : Tuner
{
    /// <summary>True when this method can adapt a module of this type.</summary>
    protected abstract bool CanAdapt(Module module);

    /// <summary>Wraps <paramref name="target"/> (found at <paramref name="path"/>) in a new layer holding <paramref name="adapter"/>.</summary>
    protected abstract ITunerLayer CreateLayer(Module target, string path, string adapter, TunerConfig config, PeftRuntime runtime, Generator? generator);

    /// <summary>Adds <paramref name="adapter"/> to a layer this method created for an earlier adapter.</summary>
    protected abstract void AddToLayer(ITunerLayer layer, string path, string adapter, TunerConfig config, Generator? generator);

    /// <summary>True when <paramref name="layer"/> is one of this method's layers.</summary>
    protected abstract bool OwnsLayer(ITunerLayer layer);

    /// <summary>For <see cref="CreateLayer"/>: runs <paramref name="addFirstAdapter"/> on a freshly made
    /// <paramref name="layer"/> and returns it. If adding fails, the layer gives its wrapped module back untouched
    /// (it still belongs to the model) and is disposed, and the exception propagates.</summary>
    protected static TLayer WithFirstAdapter<TLayer>(TLayer layer, Action<TLayer> addFirstAdapter) where TLayer : Module, ITunerLayer
    {
        try { addFirstAdapter(layer); }
        catch
        {
            layer.ReleaseBaseLayer();
            layer.Dispose();
            throw;
        }
        return layer;
    }

    /// <summary>Turns an in-memory parameter path relative to a layer (<c>lora_A.default.weight</c>) into its key in
    /// the file (<c>lora_A.weight</c>): the adapter-name segment is dropped.</summary>
    protected virtual string FileKey(string relative, string adapter)
    {
        var parts = relative.Split('.').ToList();
        int i = parts.IndexOf(adapter);
        if (i >= 0) parts.RemoveAt(i);
        return string.Join('.', parts);
    }

    /// <summary>The module paths <paramref name="config"/> targets in <paramref name="model"/>, with HF's errors for
    /// an empty match.</summary>
    public List<string> FindTargets(Module model, TunerConfig config, int? vocabSize = null)
    {
        if (config.TargetModules is null)
            throw new ArgumentException($"{PeftType}: target_modules must be set (names, a regex or \"all-linear\")");
        var effective = config;
        if (config.TargetModules.IsAllLinear)
            effective = config with { TargetModules = TargetModules.Of([.. TargetMatcher.ExpandAllLinear(model, vocabSize).DefaultIfEmpty("\u0000none")]) };
        var targets = new List<string>();
        bool anyExcluded = false;
        foreach (var (name, module) in model.NamedModules())
        {
            if (name.Length == 0 || IsInsideTunerLayer(model, name)) continue;
            if (!TargetMatcher.IsTarget(effective, name)) continue;
            if (TargetMatcher.IsExcluded(config.ExcludeModules, name)) { anyExcluded = true; continue; }
            targets.Add(name);
        }
        if (targets.Count == 0)
            throw new ArgumentException(anyExcluded
                ? $"{PeftType}: all modules matching target_modules {config.TargetModules} were excluded by exclude_modules {config.ExcludeModules}"
                : $"Target modules {config.TargetModules} not found in the base model ({model.GetType().Name}). Please check the target modules and try again.");
        return targets;
    }

    private static bool IsInsideTunerLayer(Module model, string name)
    {
        int dot = name.LastIndexOf('.');
        while (dot > 0)
        {
            if (model.GetSubmodule(name[..dot]) is ITunerLayer) return true;
            dot = name.LastIndexOf('.', dot - 1);
        }
        return false;
    }

    /// <inheritdoc/>
    public override void Inject(Module model, string adapter, PeftConfig config, PeftRuntime runtime, Generator? generator)
    {
        var tc = config as TunerConfig ?? throw new ArgumentException($"{PeftType}: expected a module-targeting config, got {config.GetType().Name}");
        var targets = FindTargets(model, tc, (model as Models.ICausalLanguageModel)?.VocabSize);
        foreach (var path in targets)
        {
            var m = model.GetSubmodule(path);
            if (m is ITunerLayer existing && !OwnsLayer(existing))
                throw new NotSupportedException($"{PeftType}: module '{path}' is already adapted by {existing.GetType().Name}; mixing methods on one module is not supported");
            if (m is not ITunerLayer && !CanAdapt(m))
                throw new NotSupportedException($"{PeftType}: target module '{path}' is a {m.GetType().Name}, which this method cannot adapt");
        }
        var saveTargets = (tc.ModulesToSave ?? []).Length == 0 ? new List<string>() : model.NamedModules()
            .Where(nm => nm.Name.Length > 0 && !IsInsideTunerLayer(model, nm.Name)
                && tc.ModulesToSave!.Any(s => nm.Name == s || nm.Name.EndsWith("." + s, StringComparison.Ordinal)))
            .Select(nm => nm.Name).ToList();
        foreach (var path in saveTargets)
        {
            var m = model.GetSubmodule(path);
            if (m is ITunerLayer and not ModulesToSaveWrapper)
                throw new ArgumentException($"{PeftType}: module '{path}' is both a target and in modules_to_save");
            if (m is not ModulesToSaveWrapper && !ModuleCloner.CanClone(m)) ModuleCloner.Clone(m);   // throws the clear error
        }

        var created = new List<(string Path, Module Original)>();
        var added = new List<ITunerLayer>();
        try
        {
            foreach (var path in targets)
            {
                if (model.GetSubmodule(path) is ITunerLayer layer) { AddToLayer(layer, path, adapter, tc, generator); added.Add(layer); continue; }
                var original = model.GetSubmodule(path);
                var wrapped = CreateLayer(original, path, adapter, tc, runtime, generator);
                model.ReplaceSubmodule(path, (Module)wrapped);
                created.Add((path, original));
            }
            foreach (var path in saveTargets)
            {
                if (model.GetSubmodule(path) is not ModulesToSaveWrapper wrapper)
                {
                    var original = model.GetSubmodule(path);
                    wrapper = new ModulesToSaveWrapper(original, runtime);
                    model.ReplaceSubmodule(path, wrapper);
                    created.Add((path, original));
                }
                wrapper.AddAdapter(adapter);
                added.Add(wrapper);
            }
        }
        catch
        {
            foreach (var layer in added) layer.DeleteAdapter(adapter);
            foreach (var (path, original) in created)
            {
                var layer = (ITunerLayer)model.ReplaceSubmodule(path, original);
                layer.ReleaseBaseLayer();
                ((Module)layer).Dispose();
            }
            throw;
        }
    }

    /// <inheritdoc/>
    public override void Delete(Module model, string adapter)
    {
        foreach (var (_, layer) in Layers(model)) layer.DeleteAdapter(adapter);
    }

    /// <summary>Every tuner layer of the model with its path.</summary>
    public static IEnumerable<(string Path, ITunerLayer Layer)> Layers(Module model) =>
        model.NamedModules().Where(nm => nm.Module is ITunerLayer).Select(nm => (nm.Name, (ITunerLayer)nm.Module)).ToList();

    /// <inheritdoc/>
    public override Dictionary<string, Tensor> SaveStateDict(Module model, string adapter, PeftConfig config)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (path, layer) in Layers(model))
        {
            if (layer is ModulesToSaveWrapper wrapper)
            {
                if (!wrapper.AdapterNames.Contains(adapter)) continue;
                foreach (var (name, p) in wrapper.Copy(adapter).NamedParameters())
                    result[PeftModel.Prefix + path + "." + name] = p.Data.Detach();
                continue;
            }
            if (!OwnsLayer(layer)) continue;
            foreach (var (name, p) in layer.AdapterParameters(adapter))
                result[PeftModel.Prefix + path + "." + FileKey(name, adapter)] = p.Data.Detach();
        }
        return result;
    }
}
