using PeftEngine.Models;
using PeftEngine.Nn;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft;

/// <summary>
/// A base model with PEFT adapters: the model is changed in place (target modules wrapped by the method's layers),
/// and this wrapper holds the adapters' configs, which ones are active, and the operations across the whole model
/// (disable, merge, unload, save, mixed batches). The module tree is HF's: this wrapper's child <c>base_model</c>
/// holds the user model under <c>model</c>, so parameter names read <c>base_model.model.lin0.lora_A.default.weight</c>.
/// </summary>
/// <remarks>HF: peft.PeftModel + its base_model (LoraModel); <see cref="Create(Module, PeftConfig, string, Generator?)"/>
/// is get_peft_model(model, config, adapter_name).</remarks>
public sealed partial class PeftModel : Module, ICausalLanguageModel
{
    /// <summary>The prefix of every key in an HF adapter file.</summary>
    public const string Prefix = "base_model.model.";

    private readonly OrderedDictionary<string, PeftConfig> _configs = new();
    private readonly Dictionary<string, Tuner> _tuners = new(StringComparer.Ordinal);
    private readonly ICausalLanguageModel? _languageModel;
    private List<string> _active = new();

    private PeftModel(Module model, ICausalLanguageModel? languageModel)
    {
        RegisterModule("base_model", new PeftBaseModel(model));
        _languageModel = languageModel;
    }

    /// <summary>Wraps <paramref name="model"/> (changed in place) with a first adapter and makes it active.</summary>
    /// <remarks>HF: get_peft_model(model, peft_config, adapter_name="default").</remarks>
    public static PeftModel Create(Module model, PeftConfig config, string adapterName = "default", Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model is PeftModel) throw new ArgumentException("PeftModel.Create: the model is already a PeftModel; use AddAdapter");
        var peft = new PeftModel(model, model as ICausalLanguageModel);
        try
        {
            peft.AddAdapter(adapterName, config, generator);
        }
        catch
        {
            peft.Base.Release();   // the model belongs to the caller again, unchanged
            throw;
        }
        peft.SetAdapter(adapterName);
        return peft;
    }

    /// <summary>Wraps a language model whose module tree is <see cref="ICausalLanguageModel.Module"/>; the result is
    /// itself an <see cref="ICausalLanguageModel"/> (a model that is both a Module and the contract can go through
    /// <see cref="Create(Module, PeftConfig, string, Generator?)"/> too).</summary>
    /// <remarks>HF: PeftModelForCausalLM (get_peft_model with task_type="CAUSAL_LM").</remarks>
    public static PeftModel ForCausalLm(ICausalLanguageModel model, PeftConfig config, string adapterName = "default", Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var peft = new PeftModel(model.Module, model);
        try { peft.AddAdapter(adapterName, config, generator); }
        catch
        {
            peft.Base.Release();
            throw;
        }
        peft.SetAdapter(adapterName);
        return peft;
    }

    private PeftBaseModel Base => (PeftBaseModel)GetChild("base_model");

    /// <summary>The adapted model (HF base_model.model).</summary>
    public Module Model => Base.Model ?? throw new ObjectDisposedException(nameof(PeftModel), "the model was handed back by MergeAndUnload / Unload");

    /// <summary>The shared per-forward state (mixed batches).</summary>
    internal PeftRuntime Runtime { get; } = new();

    /// <summary>The config of every adapter, by name, in the order they were added.</summary>
    /// <remarks>HF: model.peft_config.</remarks>
    public IReadOnlyDictionary<string, PeftConfig> PeftConfigs => _configs;

    /// <summary>The active adapters (their outputs are summed).</summary>
    /// <remarks>HF: model.active_adapters.</remarks>
    public IReadOnlyList<string> ActiveAdapters => _active;

    /// <summary>Runs the adapted model on a single input (a language model's ids with an active prompt-learning
    /// adapter: see <see cref="ICausalLanguageModel.Forward"/>).</summary>
    public override Tensor Forward(Tensor x) => ActivePrompt is { } prompt ? PromptLogits(prompt, x, null, null) : Model.Forward(x);

    /// <summary>Runs a mixed batch: sample i sees adapter <paramref name="adapterNames"/>[i] (<c>__base__</c> = none).
    /// Inference only (evaluation mode, nothing merged).</summary>
    /// <remarks>HF: model(x, adapter_names=[...]).</remarks>
    public Tensor Forward(Tensor x, IReadOnlyList<string> adapterNames) => WithSampleAdapters(adapterNames, () => Model.Forward(x));

    private Tensor WithSampleAdapters(IReadOnlyList<string> adapterNames, Func<Tensor> run)
    {
        ArgumentNullException.ThrowIfNull(adapterNames);
        var unknown = adapterNames.Where(n => n != PeftRuntime.BaseName && !_configs.ContainsKey(n)).Distinct().ToList();
        if (unknown.Count > 0) throw new ArgumentException($"Trying to infer with non-existing adapter(s): {string.Join(", ", unknown)}");
        if (Model.IsTraining) throw new InvalidOperationException("Cannot pass `adapter_names` when the model is in training mode.");
        if (HasPromptAdapters) throw new NotSupportedException("Mixed batches (adapter_names) are not supported with prompt-learning adapters.");
        Runtime.SampleAdapters = adapterNames;
        try { return run(); }
        finally { Runtime.SampleAdapters = null; }
    }

    // ------------------------------------------------------------------ ICausalLanguageModel

    private ICausalLanguageModel Lm => _languageModel
        ?? throw new NotSupportedException($"PeftModel: the base model ({Base.Model?.GetType().Name}) is not an ICausalLanguageModel");

    Module ICausalLanguageModel.Module => this;

    /// <inheritdoc/>
    public int VocabSize => Lm.VocabSize;

    /// <inheritdoc/>
    /// <remarks>With an active prompt-learning adapter, n positions fewer: its virtual tokens / prefix take them.</remarks>
    public int MaxPositions => Lm.MaxPositions - (ActivePrompt?.Config.NumVirtualTokens ?? 0);

    /// <inheritdoc/>
    /// <remarks>With an active prompt-learning adapter the attention mask covers the caller's positions only (n ones
    /// are put in front), and prompt tuning returns (B, n + T, V) when its virtual tokens go in (no cache, or an
    /// empty one), as HF does.</remarks>
    Tensor ICausalLanguageModel.Forward(Tensor ids, Tensor? attentionMask, ModelKvCache? cache) =>
        WithPromptTokens(ids, attentionMask, null, cache,
            () => ActivePrompt is { } prompt ? PromptLogits(prompt, ids, attentionMask, cache) : Lm.Forward(ids, attentionMask, cache));

    /// <summary>Language-model forward of a mixed batch (one adapter name per sequence).</summary>
    public Tensor Forward(Tensor ids, IReadOnlyList<string> adapterNames, Tensor? attentionMask, ModelKvCache? cache = null) =>
        WithSampleAdapters(adapterNames, () => WithPromptTokens(ids, attentionMask, null, cache, () => Lm.Forward(ids, attentionMask, cache)));

    /// <inheritdoc/>
    public Tensor Loss(Tensor ids, Tensor labels, Tensor? attentionMask = null) =>
        WithPromptTokens(ids, attentionMask, labels, null,
            () => ActivePrompt is { } prompt ? PromptLoss(prompt, ids, labels, attentionMask) : Lm.Loss(ids, labels, attentionMask));

    /// <inheritdoc/>
    /// <remarks>With an active prompt-learning adapter the cache has n more positions, for the prompt.</remarks>
    public ModelKvCache CreateCache(int batch, int maxLength) => Lm.CreateCache(batch, maxLength + (ActivePrompt?.Config.NumVirtualTokens ?? 0));

    /// <summary>The holder of the user model (HF LoraModel / BaseTuner, the <c>base_model</c> of a PeftModel).</summary>
    private sealed class PeftBaseModel : Module
    {
        public PeftBaseModel(Module model) => RegisterModule("model", model);

        public Module? Model => NamedChildren().Select(c => c.Module).FirstOrDefault();

        /// <summary>Hands the user model back (it no longer belongs to this tree).</summary>
        public Module Release() => RemoveModule("model");
    }
}
