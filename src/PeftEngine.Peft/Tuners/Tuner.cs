using PeftEngine.Nn;

namespace PeftEngine.Peft.Tuners;

/// <summary>
/// One PEFT method as the framework sees it: how to add an adapter to a model, how to name its weights in the HF file
/// and how to load them back. <see cref="ModuleTuner"/> implements it for methods that wrap or replace modules
/// (LoRA, IA3, adapters, BitFit masks); a prompt-learning method would implement it around the input embeddings.
/// </summary>
/// <remarks>HF: peft.tuners.tuners_utils.BaseTuner (LoraModel, IA3Model, ...) and, for prompt methods, the
/// prompt-encoder part of PeftModel.</remarks>
public abstract class Tuner
{
    /// <summary>The method's HF name ("LORA").</summary>
    public abstract string PeftType { get; }

    /// <summary>Checks a new adapter's config against the model and the adapters already present and returns the
    /// config to use (a method may correct a field, warning as HF does). The default accepts it as it is.</summary>
    public virtual PeftConfig Prepare(Module model, PeftConfig config, IReadOnlyCollection<PeftConfig> existing, int? vocabSize) => config;

    /// <summary>Base-model parameters that train together with an active adapter of this config (e.g. LoRA's
    /// <c>bias="all"</c>); none by default.</summary>
    public virtual IEnumerable<Parameter> ExtraTrainable(Module model, PeftConfig config) => [];

    /// <summary>Adds <paramref name="adapter"/> to <paramref name="model"/>. On any error the model is left as it was.</summary>
    public abstract void Inject(Module model, string adapter, PeftConfig config, PeftRuntime runtime, Generator? generator);

    /// <summary>Removes every weight of <paramref name="adapter"/> from <paramref name="model"/>.</summary>
    public abstract void Delete(Module model, string adapter);

    /// <summary>The adapter's tensors under the keys HF PEFT writes (<c>base_model.model.h.0.attn.c_attn.lora_A.weight</c>),
    /// as views of the live parameters.</summary>
    public abstract Dictionary<string, Tensor> SaveStateDict(Module model, string adapter, PeftConfig config);

    /// <summary>The live tensors <see cref="SaveStateDict"/> would write, keyed the same way; loading copies into
    /// them. Base tensors a method saves (biases with <c>bias="all"</c>) are included.</summary>
    public virtual Dictionary<string, Tensor> LoadTargets(Module model, string adapter, PeftConfig config) =>
        SaveStateDict(model, adapter, config);
}
