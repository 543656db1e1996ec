using PeftEngine.Nn;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft;

public sealed partial class PeftModel
{
    /// <summary>Folds <paramref name="adapterNames"/> (default: the active adapters) into the base weights. With
    /// <paramref name="safeMerge"/> every merged weight of every layer is computed and checked for NaN/Inf first;
    /// if one is not finite nothing at all changes and an error names the adapter.</summary>
    /// <remarks>HF: merge_adapter(adapter_names, safe_merge) ("NaNs detected in the merged weights. The adapter X
    /// seems to be broken"). Merging adapters that are already merged warns and does nothing.</remarks>
    public void MergeAdapter(IReadOnlyList<string>? adapterNames = null, bool safeMerge = false)
    {
        var names = adapterNames ?? _active;
        foreach (var n in names)
            if (!_configs.ContainsKey(n)) throw new ArgumentException($"Adapter {n} does not exist");
        RejectPromptMerge(names, "MergeAdapter");
        var layers = TunerLayers().Select(l => l.Layer).Where(l => l is not ModulesToSaveWrapper).ToList();
        bool anyToMerge = layers.Any(l => names.Any(n => l.AdapterNames.Contains(n) && !l.MergedAdapters.Contains(n)));
        if (!anyToMerge)
        {
            PeftWarnings.Warn("All adapters are already merged, nothing to do.");
            return;
        }
        if (safeMerge)
            foreach (var l in layers) l.CheckMergeIsFinite(names);
        foreach (var l in layers) l.Merge(names, safeMerge: false);
    }

    /// <summary>Removes every merged adapter from the base weights again.</summary>
    /// <remarks>HF: unmerge_adapter(). The restored weights equal the originals up to float rounding of W + ΔW − ΔW.</remarks>
    public void UnmergeAdapter()
    {
        foreach (var (_, l) in TunerLayers()) l.Unmerge();
    }

    /// <summary>Merges <paramref name="adapterNames"/> (default: active) and returns the plain base model with every
    /// adapter layer replaced by its (merged) base module and every modules_to_save wrapper by the active copy.
    /// This wrapper is finished afterwards.</summary>
    /// <remarks>HF: merge_and_unload(safe_merge, adapter_names).</remarks>
    public Module MergeAndUnload(bool safeMerge = false, IReadOnlyList<string>? adapterNames = null)
    {
        var names = adapterNames ?? _active;
        RejectPromptMerge(names, "MergeAndUnload");
        if (TunerLayers().Any(l => l.Layer is not ModulesToSaveWrapper && names.Any(n => l.Layer.AdapterNames.Contains(n) && !l.Layer.MergedAdapters.Contains(n))))
            MergeAdapter(names, safeMerge);
        return UnloadCore(keepCopies: true);
    }

    /// <summary>Returns the base model with every adapter removed and not merged (merged adapters are unmerged
    /// first), so it computes the original outputs. This wrapper is finished afterwards.</summary>
    /// <remarks>HF: unload().</remarks>
    public Module Unload()
    {
        UnmergeAdapter();
        return UnloadCore(keepCopies: false);
    }

    private Module UnloadCore(bool keepCopies)
    {
        var model = Model;
        foreach (var (path, layer) in TunerLayers().Reverse())
        {
            if (layer is IAttachedTunerLayer)
            {
                model.RemoveSubmodule(path).Dispose();
                continue;
            }
            var replacement = layer is ModulesToSaveWrapper w ? w.Release(keepCopies) : layer.ReleaseBaseLayer();
            model.ReplaceSubmodule(path, replacement);
            ((Module)layer).Dispose();
        }
        if (NamedChildren().Any(c => c.Name == "prompt_encoder")) RemoveModule("prompt_encoder").Dispose();
        Base.Release();
        _configs.Clear();
        _active.Clear();
        return model;
    }
}
