// AdapterFusion (Pfeiffer et al., EACL 2021, arXiv:2005.00247) as a tuner: stage 2 of the method. The N series
// adapters were trained first (stage 1, BottleneckTuner); the fusion is a new adapter whose parameters live in the same
// BottleneckLayer at each sub-layer that holds all N: h ← h + Σ_n softmax_n(q(h)·k(z_n)/T)·W_V·z_n(h). Activating the
// fusion alone leaves the N adapters inactive, so the framework freezes them and only the fusion trains.
// Save/load: peft_type "ADAPTER_FUSION", keys base_model.model.<path>.adapter_fusion.{query,key,value}.weight and
// .{query,key}.bias; the fused adapters are saved and loaded separately under the names the config lists.

using PeftEngine.Nn;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Adapters;

/// <summary>AdapterFusion over series bottleneck adapters already present in the model (see the file header).</summary>
/// <remarks>AdapterHub: <c>model.add_adapter_fusion(Fuse("a", "b"))</c> + <c>train_adapter_fusion</c>; HF PEFT has
/// none.</remarks>
public sealed class AdapterFusionTuner : ModuleTuner
{
    /// <inheritdoc/>
    public override string PeftType => AdapterFusionConfig.Type;

    /// <inheritdoc/>
    protected override bool CanAdapt(Module module) => false;

    /// <inheritdoc/>
    protected override bool OwnsLayer(ITunerLayer layer) => layer is BottleneckLayer;

    /// <inheritdoc/>
    protected override ITunerLayer CreateLayer(Module target, string path, string adapter, TunerConfig config, PeftRuntime runtime, Generator? generator) =>
        throw new NotSupportedException($"ADAPTER_FUSION: '{path}' holds no bottleneck adapters to fuse");

    /// <inheritdoc/>
    protected override void AddToLayer(ITunerLayer layer, string path, string adapter, TunerConfig config, Generator? generator) =>
        ((BottleneckLayer)layer).AddFusion(adapter, (AdapterFusionConfig)config, path, generator);

    /// <summary>Adds the fusion at every bottleneck layer that holds all the fused adapters (restricted to
    /// target_modules when set). On any error the model is left as it was.</summary>
    public override void Inject(Module model, string adapter, PeftConfig config, PeftRuntime runtime, Generator? generator)
    {
        var c = config as AdapterFusionConfig ?? throw new ArgumentException($"ADAPTER_FUSION: expected an AdapterFusionConfig, got {config.GetType().Name}");
        c.Validate();
        if (c.ModulesToSave is { Length: > 0 }) throw new NotSupportedException("ADAPTER_FUSION: modules_to_save is not supported; add the head to one of the fused adapters' configs instead");
        var all = Layers(model).Where(l => l.Layer is BottleneckLayer).ToList();
        foreach (var a in c.Adapters)
            if (!all.Any(l => l.Layer.AdapterNames.Contains(a)))
                throw new ArgumentException($"ADAPTER_FUSION: no bottleneck adapter named \"{a}\" in the model; add or load the adapters to fuse first");
        var targets = all.Where(l => c.Adapters.All(l.Layer.AdapterNames.Contains)
            && (c.TargetModules is null || TargetMatcher.IsTarget(c, l.Path))
            && !TargetMatcher.IsExcluded(c.ExcludeModules, l.Path)).ToList();
        if (targets.Count == 0)
            throw new ArgumentException($"ADAPTER_FUSION: no adapted sub-layer holds all of [{string.Join(", ", c.Adapters)}]{(c.TargetModules is null ? "" : $" among target_modules {c.TargetModules}")}");
        var added = new List<ITunerLayer>();
        try
        {
            foreach (var (path, layer) in targets)
            {
                AddToLayer(layer, path, adapter, c, generator);
                added.Add(layer);
            }
        }
        catch
        {
            foreach (var layer in added) layer.DeleteAdapter(adapter);
            throw;
        }
    }

    /// <summary>The fusion regulariser 0.01·Σ_layers ‖I − W_V‖²_F of <paramref name="fusion"/> (a scalar that keeps
    /// the value projections near the identity; add it to the training loss).</summary>
    /// <remarks>AdapterHub: <c>model.get_fusion_regularization_loss()</c> (the "dynamic" preset's regularization=True).</remarks>
    public static Tensor RegularizationLoss(PeftModel model, string fusion, double weight = 0.01)
    {
        ArgumentNullException.ThrowIfNull(model);
        Tensor? total = null;
        foreach (var (_, layer) in model.TunerLayers())
        {
            if (layer is not BottleneckLayer b || !b.IsFusion(fusion)) continue;
            var w = b.Fusions[fusion].Value.Weight;
            int d = w.Data.Shape[0];
            var eye = new float[d * d];
            for (int i = 0; i < d; i++) eye[i * d + i] = 1;
            using var identity = Tensor.FromArray(eye, d, d);
            using var diff = Ops.Sub(identity, w);
            using var sq = Ops.Mul(diff, diff);
            var term = Ops.Sum(sq);
            if (total is null) { total = term; continue; }
            using (term) using (var old = total) total = Ops.Add(old, term);
        }
        if (total is null) throw new ArgumentException($"ADAPTER_FUSION: the model has no fusion named \"{fusion}\"");
        using (total) return Ops.Mul(total, weight);
    }
}
