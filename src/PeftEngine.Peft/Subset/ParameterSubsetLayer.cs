// Training a chosen subset of the base parameters (DESIGN.md §3, injection point 7: BitFit, LN tuning). Each adapter
// a keeps its own trainable copy θ_a of the chosen parameters θ of the wrapped module; the base values θ₀ never
// change while adapters are unmerged, so disabling gives the base model and several adapters can coexist:
//
//     forward with adapter a:      f(x; θ_a)
//     merged adapters a₁ … a_k:    θ ← θ_a (one adapter, copied exactly) or θ₀ + Σⱼ (θ_aⱼ − θ₀)
//     unmerge:                     θ ← θ₀ (the stashed originals, restored bit for bit)

using PeftEngine.Nn;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Subset;

/// <summary>
/// A tuner layer that trains per-adapter copies of some of the wrapped module's own parameters. Subclasses say how
/// the copies are held (<see cref="Pairs"/>) and how the module runs with them (<see cref="AdaptedForward"/>); this
/// class does the rest: disable, merge by writing the tuned values into the base parameters (the originals are
/// stashed and restored exactly on unmerge), safe merge, mixed batches, delete and requires-grad.
/// </summary>
/// <remarks>HF: the shape of peft.tuners.ln_tuning.layer.LNTuningLayer (children <c>base_layer</c> and a per-adapter
/// dict of tuned copies); HF swaps the copy and the base module to merge, this layer copies values instead so the
/// module objects (and their dtype) stay in place.</remarks>
public abstract class ParameterSubsetLayer : Module, ITunerLayer
{
    private readonly List<string> _merged = new();
    private readonly Dictionary<Parameter, Tensor> _stash = new();
    private List<string> _active = new();

    /// <summary>Wraps <paramref name="baseLayer"/> (now owned by this layer); the copies live under <paramref name="dictName"/>.</summary>
    protected ParameterSubsetLayer(Module baseLayer, PeftRuntime runtime, string dictName)
    {
        Runtime = runtime;
        DictName = dictName;
        RegisterModule("base_layer", baseLayer);
        RegisterModule(dictName, new AdapterDict<Module>());
    }

    /// <summary>The batch state shared with the model.</summary>
    protected PeftRuntime Runtime { get; }

    /// <summary>The child name of the per-adapter copies (<c>ln_tuning_layers</c>, <c>bitfit</c>).</summary>
    protected string DictName { get; }

    /// <summary>The per-adapter holders of the tuned copies.</summary>
    public AdapterDict<Module> Copies => (AdapterDict<Module>)GetChild(DictName);

    /// <inheritdoc/>
    public Module BaseLayer => GetChild("base_layer");

    /// <inheritdoc/>
    public IReadOnlyList<string> AdapterNames => Copies.Keys;

    /// <inheritdoc/>
    public IReadOnlyList<string> ActiveAdapters { get => _active; set => _active = value.ToList(); }

    /// <inheritdoc/>
    public bool Disabled { get; set; }

    /// <inheritdoc/>
    public IReadOnlyList<string> MergedAdapters => _merged;

    /// <summary>False when the method allows one adapter at a time in the forward pass and in merges (LN tuning).</summary>
    protected virtual bool AllowsSeveralAdapters => true;

    /// <summary>Each base parameter of the subset with the copy <paramref name="adapter"/> trains.</summary>
    protected abstract IEnumerable<(Parameter Base, Parameter Tuned)> Pairs(string adapter);

    /// <summary>The wrapped module's output with the tuned values of <paramref name="adapters"/> (all known here,
    /// at least one) in place of the base values.</summary>
    protected abstract Tensor AdaptedForward(Tensor x, IReadOnlyList<string> adapters);

    /// <summary>Registers the holder of <paramref name="adapter"/>'s copies.</summary>
    protected void AddCopies(string adapter, Module holder)
    {
        if (Copies.ContainsKey(adapter)) throw new ArgumentException($"{GetType().Name}: adapter \"{adapter}\" already exists");
        Copies.Add(adapter, holder);
        holder.Train(BaseLayer.IsTraining);
    }

    // ------------------------------------------------------------------ forward

    /// <summary>The base output when disabled, merged or without an active adapter here; else the adapted output.</summary>
    public override Tensor Forward(Tensor x)
    {
        if (Disabled)
        {
            if (_merged.Count > 0) Unmerge();
            return BaseLayer.Forward(x);
        }
        if (Runtime.SampleAdapters is not null) return MixedBatchForward(x);
        if (_merged.Count > 0) return BaseLayer.Forward(x);
        var active = _active.Where(Copies.ContainsKey).ToList();
        if (active.Count == 0) return BaseLayer.Forward(x);
        if (active.Count > 1 && !AllowsSeveralAdapters)
            throw new InvalidOperationException($"Trying to run forward with {active.Count} active adapters, but {GetType().Name} does not allow inference with more than one adapter at a time");
        return AdaptedForward(x, active);
    }

    private Tensor MixedBatchForward(Tensor x)
    {
        if (IsTraining) throw new InvalidOperationException("Cannot pass `adapter_names` when the model is in training mode.");
        if (_merged.Count > 0) throw new InvalidOperationException("Cannot pass `adapter_names` when there are merged adapters, please call `unmerge_adapter` first.");
        Runtime.CheckBatch(x, GetType().Name);
        var result = BaseLayer.Forward(x);
        Runtime.ReplacePerGroup(x, result, Copies.ContainsKey, (name, sub) => AdaptedForward(sub, [name]));
        return result;
    }

    // ------------------------------------------------------------------ merging

    /// <summary>The F32 value each base parameter takes with <paramref name="adapters"/> merged.</summary>
    private List<(Parameter Base, Tensor Value)> MergedValues(IReadOnlyList<string> adapters)
    {
        var result = new List<(Parameter, Tensor)>();
        var pairs = adapters.SelectMany(a => Pairs(a)).GroupBy(p => p.Base);
        foreach (var group in pairs)
        {
            var tuned = group.Select(g => g.Tuned).ToList();
            if (tuned.Count == 1) { result.Add((group.Key, Ops.Cast(tuned[0], DType.F32))); continue; }
            using var original = _stash.TryGetValue(group.Key, out var s) ? Ops.Cast(s, DType.F32) : Ops.Cast(group.Key, DType.F32);
            var sum = Ops.Clone(original);
            foreach (var t in tuned)
            {
                using var delta = Ops.Sub(t, original);                 // θ_a − θ₀
                Ops.AddInPlace(sum, delta);
            }
            result.Add((group.Key, sum));
        }
        return result;
    }

    private List<string> ToMerge(IReadOnlyList<string> adapters)
    {
        var todo = adapters.Where(a => Copies.ContainsKey(a) && !_merged.Contains(a)).Distinct().ToList();
        if (!AllowsSeveralAdapters && _merged.Count + todo.Count > 1)
            throw new ArgumentException($"Trying to merge {_merged.Count + todo.Count} adapters, but {GetType().Name} does not allow merging more than one adapter at a time");
        return todo;
    }

    /// <inheritdoc/>
    public void CheckMergeIsFinite(IReadOnlyList<string> adapters)
    {
        using var _ = GradMode.Disable();
        var todo = ToMerge(adapters);
        foreach (var a in todo)
            foreach (var (_, tuned) in Pairs(a))
                if (!tuned.Data.ToFloatArray().All(float.IsFinite))
                    throw new ArgumentException($"NaNs detected in the merged weights. The adapter {a} seems to be broken");
    }

    /// <inheritdoc/>
    public void Merge(IReadOnlyList<string> adapters, bool safeMerge)
    {
        var todo = ToMerge(adapters);
        if (todo.Count == 0) return;
        if (safeMerge) CheckMergeIsFinite(todo);
        using var _ = GradMode.Disable();
        var all = _merged.Concat(todo).ToList();
        var values = MergedValues(all);
        try
        {
            foreach (var (p, _) in values)
                if (!_stash.ContainsKey(p)) _stash[p] = Ops.Clone(p.Data);
            foreach (var (p, v) in values)
                using (var cast = Ops.Cast(v, p.DType)) Ops.CopyInPlace(p, cast);
        }
        finally
        {
            foreach (var (_, v) in values) v.Dispose();
        }
        _merged.AddRange(todo);
    }

    /// <inheritdoc/>
    public void Unmerge()
    {
        using var _ = GradMode.Disable();
        foreach (var (p, original) in _stash)
        {
            Ops.CopyInPlace(p, original);
            original.Dispose();
        }
        _stash.Clear();
        _merged.Clear();
    }

    // ------------------------------------------------------------------ adapter bookkeeping

    /// <inheritdoc/>
    public void DeleteAdapter(string adapter)
    {
        if (!Copies.ContainsKey(adapter)) return;
        if (_merged.Contains(adapter)) throw new InvalidOperationException($"{GetType().Name}: cannot delete adapter \"{adapter}\" while it is merged; unmerge first");
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
        Copies.ParametersOf(adapter, DictName);

    /// <inheritdoc/>
    public Module ReleaseBaseLayer() => RemoveModule("base_layer");

    /// <inheritdoc/>
    protected override void DisposeExtra()
    {
        foreach (var t in _stash.Values) t.Dispose();
        _stash.Clear();
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"adapters=[{string.Join(", ", AdapterNames)}]";
}
