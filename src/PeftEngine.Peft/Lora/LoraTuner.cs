using PeftEngine.Nn;
using PeftEngine.Peft.Tuners;

using PeftEngine.Quant;

namespace PeftEngine.Peft.Lora;

/// <summary>
/// LoRA as a <see cref="ModuleTuner"/>: wraps Linear / Conv1D in <see cref="LoraLinear"/>, Embedding in
/// <see cref="LoraEmbedding"/>, Conv1d / Conv2d in <see cref="LoraConv"/>, and names the weights as HF PEFT does
/// (DoRA's <c>lora_magnitude_vector</c> without <c>.weight</c>; biases for <c>bias="all"</c> / <c>"lora_only"</c>).
/// </summary>
/// <remarks>HF: peft.tuners.lora.model.LoraModel (_create_and_replace, _create_new_module) and the LoRA branch of
/// get_peft_model_state_dict.</remarks>
public sealed class LoraTuner : ModuleTuner
{
    /// <inheritdoc/>
    public override string PeftType => "LORA";

    /// <inheritdoc/>
    protected override bool CanAdapt(Module module) => module is Linear or Conv1D or IQuantizedLinear or Embedding or Conv1d or Conv2d;

    /// <inheritdoc/>
    protected override bool OwnsLayer(ITunerLayer layer) => layer is LoraLayer;

    /// <inheritdoc/>
    public override void Inject(Module model, string adapter, PeftConfig config, PeftRuntime runtime, Generator? generator)
    {
        var lora = config as LoraConfig ?? throw new ArgumentException($"LORA: expected a LoraConfig, got {config.GetType().Name}");
        lora.Validate();
        base.Inject(model, adapter, config, runtime, generator);
    }

    /// <summary>HF's checks: only one LoRA adapter may train biases; GPT-2 Conv1D targets need
    /// <c>fan_in_fan_out</c> (set with a warning, as HF does).</summary>
    public override PeftConfig Prepare(Module model, PeftConfig config, IReadOnlyCollection<PeftConfig> existing, int? vocabSize)
    {
        var lora = (LoraConfig)config;
        if (lora.TargetModules is null)
        {
            string? type = DefaultTargetModules.ModelType(model);
            if (type is null || !DefaultTargetModules.Lora.TryGetValue(type, out var defaults))
                throw new ArgumentException($"LORA: target_modules is not set and there is no default for {type ?? model.GetType().Name}; please specify `target_modules` in `peft_config`");
            lora = lora with { TargetModules = TargetModules.Of(defaults) };
        }
        var others = existing.OfType<LoraConfig>().ToList();
        if (others.Count > 0 && (lora.Bias != "none" || others.Any(c => c.Bias != "none")))
            throw new ArgumentException("LoraModel supports only 1 adapter with bias. When using multiple adapters, set bias to 'none' for all adapters.");
        if (!lora.FanInFanOut && model.NamedModules().Any(nm => nm.Module is Conv1D))
        {
            bool conv1D;
            try { conv1D = FindTargets(model, lora, vocabSize).Any(p => model.GetSubmodule(p) is Conv1D or LoraLinear { FanInFanOut: true }); }
            catch (ArgumentException) { conv1D = false; }   // Inject reports bad targets
            if (conv1D)
            {
                PeftWarnings.Warn("fan_in_fan_out is set to False but the target module is `Conv1D`. Setting fan_in_fan_out to True.");
                return lora with { FanInFanOut = true };
            }
        }
        return lora;
    }

    /// <inheritdoc/>
    public override IEnumerable<Parameter> ExtraTrainable(Module model, PeftConfig config)
    {
        var lora = (LoraConfig)config;
        if (lora.Bias == "none") return [];
        return model.NamedParameters().Where(np => IsTrainedBias(lora, model, np.Name)).Select(np => np.Parameter).ToList();
    }

    /// <inheritdoc/>
    protected override ITunerLayer CreateLayer(Module target, string path, string adapter, TunerConfig config, PeftRuntime runtime, Generator? generator)
    {
        var lora = (LoraConfig)config;
        LoraLayer layer = target switch
        {
            Linear => new LoraLinear(target, runtime),
            Conv1D => new LoraLinear(target, runtime),
            IQuantizedLinear => new LoraLinear(target, runtime),
            Embedding e => new LoraEmbedding(e, runtime),
            _ => new LoraConv(target, runtime),
        };
        if (target is Conv1D && !lora.FanInFanOut)
            PeftWarnings.Warn($"fan_in_fan_out is set to False but the target module `{path}` is `Conv1D`. Setting fan_in_fan_out to True.");
        if (target is Linear && lora.FanInFanOut)
            PeftWarnings.Warn($"fan_in_fan_out is set to True but the target module `{path}` is `torch.nn.Linear`. Setting fan_in_fan_out to False.");
        return WithFirstAdapter(layer, l => l.AddAdapter(adapter, lora, path, generator));
    }

    /// <inheritdoc/>
    protected override void AddToLayer(ITunerLayer layer, string path, string adapter, TunerConfig config, Generator? generator) =>
        ((LoraLayer)layer).AddAdapter(adapter, (LoraConfig)config, path, generator);

    /// <inheritdoc/>
    protected override string FileKey(string relative, string adapter)
    {
        var key = base.FileKey(relative, adapter);
        return key == "lora_magnitude_vector.weight" ? "lora_magnitude_vector" : key;
    }

    /// <inheritdoc/>
    public override Dictionary<string, Tensor> SaveStateDict(Module model, string adapter, PeftConfig config)
    {
        var result = base.SaveStateDict(model, adapter, config);
        var bias = ((LoraConfig)config).Bias;
        if (bias == "all")
        {
            foreach (var (name, p) in model.NamedParameters())
                if (name.EndsWith("bias", StringComparison.Ordinal) && !name.Contains(".lora_") && !name.Contains(".modules_to_save."))
                    result[PeftModel.Prefix + name.Replace(".original_module.", ".", StringComparison.Ordinal)] = p.Data.Detach();
        }
        else if (bias == "lora_only")
        {
            foreach (var (path, layer) in Layers(model))
                if (layer is LoraLayer l && l.AdapterNames.Contains(adapter) && l.BaseLayer.NamedParameters().FirstOrDefault(p => p.Name == "bias").Parameter is { } b)
                    result[PeftModel.Prefix + path + ".base_layer.bias"] = b.Data.Detach();
        }
        return result;
    }

    /// <summary>True when <paramref name="parameterName"/> (a path in the model) is a bias the config trains.</summary>
    internal static bool IsTrainedBias(LoraConfig config, Module model, string parameterName)
    {
        if (config.Bias == "none" || !parameterName.EndsWith("bias", StringComparison.Ordinal) || parameterName.Contains(".lora_")) return false;
        if (config.Bias == "all") return true;
        return parameterName.EndsWith(".base_layer.bias", StringComparison.Ordinal)
            && model.GetSubmodule(parameterName[..^".base_layer.bias".Length]) is LoraLayer;
    }
}
