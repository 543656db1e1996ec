// (IA)³ as a tuner (Liu et al., NeurIPS 2022, arXiv 2205.05638): every target gets a learned vector l that rescales
// its output, y = l ⊙ base(x), or, for feed-forward targets, its input, y = base(l ⊙ x). File keys as HF writes them:
// base_model.model.<path>.ia3_l with shape (out, 1), or (1, in) for a feed-forward target.

using PeftEngine.Nn;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Ia3;

/// <summary>(IA)³ as a <see cref="ModuleTuner"/>: wraps Linear / Conv1D (or quantized linear) targets in <see cref="Ia3Layer"/>, fills in
/// HF's default target and feed-forward modules per architecture, and sets <c>fan_in_fan_out</c> for GPT-2's Conv1D
/// with HF's warning.</summary>
/// <remarks>HF: peft.tuners.ia3.model.IA3Model (_prepare_adapter_config, _create_and_replace,
/// _check_target_module_feedforward).</remarks>
public sealed class Ia3Tuner : ModuleTuner
{
    /// <inheritdoc/>
    public override string PeftType => "IA3";

    /// <inheritdoc/>
    protected override bool CanAdapt(Module module) => module is Linear or Conv1D or Quant.IQuantizedLinear;

    /// <inheritdoc/>
    protected override bool OwnsLayer(ITunerLayer layer) => layer is Ia3Layer;

    /// <summary>HF's defaults for missing target / feed-forward modules, the subset check, and fan_in_fan_out for
    /// Conv1D targets (set with a warning).</summary>
    public override PeftConfig Prepare(Module model, PeftConfig config, IReadOnlyCollection<PeftConfig> existing, int? vocabSize)
    {
        var ia3 = config as Ia3Config ?? throw new ArgumentException($"IA3: expected an Ia3Config, got {config.GetType().Name}");
        string? type = DefaultTargetModules.ModelType(model);
        if (ia3.TargetModules is null)
        {
            if (type is null || !Ia3Config.DefaultTargets.TryGetValue(type, out var targets))
                throw new ArgumentException($"IA3: target_modules is not set and there is no default for {type ?? model.GetType().Name}; Please specify `target_modules` in `peft_config`");
            ia3 = ia3 with { TargetModules = TargetModules.Of(targets) };
        }
        if (ia3.FeedforwardModules is null)
        {
            if (type is null || !Ia3Config.DefaultFeedforward.TryGetValue(type, out var ff))
                throw new ArgumentException($"IA3: feedforward_modules is not set and there is no default for {type ?? model.GetType().Name}; Please specify `feedforward_modules` in `peft_config`");
            ia3 = ia3 with { FeedforwardModules = TargetModules.Of(ff) };
        }
        ia3.Validate();
        if (!ia3.FanInFanOut && model.NamedModules().Any(nm => nm.Module is Conv1D))
        {
            bool conv1D;
            try { conv1D = FindTargets(model, ia3, vocabSize).Any(p => model.GetSubmodule(p) is Conv1D or Ia3Layer { FanInFanOut: true }); }
            catch (ArgumentException) { conv1D = false; }   // Inject reports bad targets
            if (conv1D)
            {
                PeftWarnings.Warn("fan_in_fan_out is set to False but the target module is `Conv1D`. Setting fan_in_fan_out to True.");
                ia3 = ia3 with { FanInFanOut = true };
            }
        }
        return ia3;
    }

    /// <inheritdoc/>
    public override void Inject(Module model, string adapter, PeftConfig config, PeftRuntime runtime, Generator? generator)
    {
        var ia3 = config as Ia3Config ?? throw new ArgumentException($"IA3: expected an Ia3Config, got {config.GetType().Name}");
        ia3.Validate();
        base.Inject(model, adapter, config, runtime, generator);
    }

    /// <inheritdoc/>
    protected override ITunerLayer CreateLayer(Module target, string path, string adapter, TunerConfig config, PeftRuntime runtime, Generator? generator)
    {
        var ia3 = (Ia3Config)config;
        if (target is Linear && ia3.FanInFanOut)
            PeftWarnings.Warn($"fan_in_fan_out is set to True but the target module `{path}` is `torch.nn.Linear`. Setting fan_in_fan_out to False.");
        var layer = new Ia3Layer(target, ia3.IsFeedforward(path), runtime);
        layer.AddAdapter(adapter, ia3.InitIa3Weights, generator);
        layer.Train(target.IsTraining);
        return layer;
    }

    /// <inheritdoc/>
    protected override void AddToLayer(ITunerLayer layer, string path, string adapter, TunerConfig config, Generator? generator)
    {
        var ia3 = (Ia3Config)config;
        var l = (Ia3Layer)layer;
        if (ia3.IsFeedforward(path) != l.IsFeedforward)
            throw new ArgumentException($"IA3: module '{path}' is {(l.IsFeedforward ? "" : "not ")}a feed-forward target for the adapters it already has; adapter \"{adapter}\" disagrees");
        l.AddAdapter(adapter, ia3.InitIa3Weights, generator);
    }
}
