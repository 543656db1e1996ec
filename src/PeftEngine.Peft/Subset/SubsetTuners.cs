// The tuners of the parameter-subset methods (DESIGN.md §3 point 7): they wrap each target in a
// ParameterSubsetLayer whose per-adapter copies of the chosen parameters are the only trainable tensors.
//   LN tuning (Zhao et al., ICLR 2024, arXiv 2312.11420):  y = norm_a(x), a trained copy (γ_a, β_a) of each norm layer
//   BitFit (Ben Zaken et al., ACL 2022, arXiv 2106.10199):  y = x·Wᵀ + b_a, a trained copy b_a of each bias

using PeftEngine.Nn;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Subset;

/// <summary>LN tuning as a <see cref="ModuleTuner"/>: wraps each target (any module <see cref="ModuleCloner"/> can
/// copy) in an <see cref="LnTuningLayer"/>; file keys <c>base_model.model.&lt;path&gt;.ln_tuning_layers.weight</c>.</summary>
/// <remarks>HF: peft.tuners.ln_tuning.model.LNTuningModel.</remarks>
public sealed class LnTuningTuner : ModuleTuner
{
    /// <inheritdoc/>
    public override string PeftType => "LN_TUNING";

    /// <inheritdoc/>
    protected override bool CanAdapt(Module module) => ModuleCloner.CanClone(module) && module.Parameters().Any();

    /// <inheritdoc/>
    protected override bool OwnsLayer(ITunerLayer layer) => layer is LnTuningLayer;

    /// <summary>HF's per-architecture default targets when none are given.</summary>
    public override PeftConfig Prepare(Module model, PeftConfig config, IReadOnlyCollection<PeftConfig> existing, int? vocabSize)
    {
        var ln = config as LnTuningConfig ?? throw new ArgumentException($"LN_TUNING: expected an LnTuningConfig, got {config.GetType().Name}");
        if (ln.TargetModules is not null) return ln;
        string? type = DefaultTargetModules.ModelType(model);
        if (type is null || !LnTuningConfig.DefaultTargets.TryGetValue(type, out var targets))
            throw new ArgumentException($"LN_TUNING: target_modules is not set and there is no default for {type ?? model.GetType().Name}; Please specify `target_modules` in `peft_config`");
        return ln with { TargetModules = TargetModules.Of(targets) };
    }

    /// <inheritdoc/>
    protected override ITunerLayer CreateLayer(Module target, string path, string adapter, TunerConfig config, PeftRuntime runtime, Generator? generator)
    {
        var layer = new LnTuningLayer(target, runtime);
        layer.AddAdapter(adapter, ((LnTuningConfig)config).InitWeights, generator);
        return layer;
    }

    /// <inheritdoc/>
    protected override void AddToLayer(ITunerLayer layer, string path, string adapter, TunerConfig config, Generator? generator) =>
        ((LnTuningLayer)layer).AddAdapter(adapter, ((LnTuningConfig)config).InitWeights, generator);
}

/// <summary>BitFit as a <see cref="ModuleTuner"/>: wraps each target that has a bias in a <see cref="BitFitLayer"/>;
/// without target_modules every module with a bias (outside modules_to_save) is a target. File keys are the base
/// model's bias keys, <c>base_model.model.&lt;path&gt;.bias</c>, holding the tuned values.</summary>
/// <remarks>No HF PEFT counterpart (LoRA's bias="all" is the nearest).</remarks>
public sealed class BitFitTuner : ModuleTuner
{
    /// <inheritdoc/>
    public override string PeftType => "BITFIT";

    /// <inheritdoc/>
    protected override bool CanAdapt(Module module) => BitFitLayer.BaseBias(module) is not null;

    /// <inheritdoc/>
    protected override bool OwnsLayer(ITunerLayer layer) => layer is BitFitLayer;

    /// <summary>Without target_modules, targets every module with a bias (the stored config keeps null).</summary>
    public override void Inject(Module model, string adapter, PeftConfig config, PeftRuntime runtime, Generator? generator)
    {
        var bitfit = config as BitFitConfig ?? throw new ArgumentException($"BITFIT: expected a BitFitConfig, got {config.GetType().Name}");
        if (bitfit.TargetModules is null)
        {
            var save = bitfit.ModulesToSave ?? [];
            var paths = model.NamedModules()
                .Where(nm => nm.Name.Length > 0 && (nm.Module is BitFitLayer || (CanAdapt(nm.Module) && !InsideTunerLayer(model, nm.Name))))
                .Select(nm => nm.Name)
                .Where(p => !save.Any(s => p == s || p.EndsWith("." + s, StringComparison.Ordinal)) && !save.Any(s => p.Contains("." + s + ".", StringComparison.Ordinal) || p.StartsWith(s + ".", StringComparison.Ordinal)))
                .ToArray();
            if (paths.Length == 0) throw new ArgumentException($"BITFIT: the model ({model.GetType().Name}) has no module with a bias");
            bitfit = bitfit with { TargetModules = TargetModules.Of(paths) };
        }
        base.Inject(model, adapter, bitfit, runtime, generator);
    }

    private static bool InsideTunerLayer(Module model, string name)
    {
        for (int dot = name.LastIndexOf('.'); dot > 0; dot = name.LastIndexOf('.', dot - 1))
            if (model.GetSubmodule(name[..dot]) is ITunerLayer) return true;
        return false;
    }

    /// <inheritdoc/>
    protected override ITunerLayer CreateLayer(Module target, string path, string adapter, TunerConfig config, PeftRuntime runtime, Generator? generator)
    {
        var layer = new BitFitLayer(target, runtime);
        layer.AddAdapter(adapter, ((BitFitConfig)config).InitWeights, generator);
        return layer;
    }

    /// <inheritdoc/>
    protected override void AddToLayer(ITunerLayer layer, string path, string adapter, TunerConfig config, Generator? generator) =>
        ((BitFitLayer)layer).AddAdapter(adapter, ((BitFitConfig)config).InitWeights, generator);

    /// <summary><c>bitfit.default.bias</c> is saved as the module's own <c>bias</c>.</summary>
    protected override string FileKey(string relative, string adapter) => "bias";
}
