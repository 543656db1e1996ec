using PeftEngine.Models;
using PeftEngine.Nn;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Prompt;

/// <summary>
/// The framework side of the prompt-learning methods: they change no module of the model; their parameters live in
/// the PeftModel's <c>prompt_encoder</c> child, and the PeftModel feeds their output to the model at each forward
/// (virtual tokens in front of the input embeddings, or a per-layer attention prefix). One adapter is active at a
/// time; they cannot be merged. The file holds one tensor, <c>prompt_embeddings</c>.
/// </summary>
/// <remarks>HF: the prompt-learning branches of PeftModel (_setup_prompt_encoder, get_prompt,
/// get_prompt_embedding_to_save) and of set_peft_model_state_dict.</remarks>
public abstract class PromptLearningTuner : Tuner
{
    /// <summary>The single key of the adapter file.</summary>
    public const string FileKey = "prompt_embeddings";

    private PromptEncoderDict? _encoders;
    private IPromptableCausalLanguageModel? _model;

    /// <summary>Connects the tuner to the PeftModel's encoders and to the language model they feed.</summary>
    internal void Bind(PromptEncoderDict encoders, IPromptableCausalLanguageModel model)
    {
        _encoders = encoders;
        _model = model;
    }

    /// <summary>The encoders by adapter name.</summary>
    protected PromptEncoderDict Encoders => _encoders ?? throw new InvalidOperationException($"{PeftType}: the tuner is not bound to a PeftModel");

    /// <summary>The language model the prompts feed.</summary>
    protected IPromptableCausalLanguageModel Model => _model ?? throw new InvalidOperationException($"{PeftType}: the tuner is not bound to a PeftModel");

    /// <summary>Fills the sizes HF fills from the model config and checks what this engine supports.</summary>
    /// <remarks>HF: peft.mapping._prepare_prompt_learning_config; "Cannot combine adapters with different peft
    /// types" from PeftModel.add_adapter.</remarks>
    public override PeftConfig Prepare(Module model, PeftConfig config, IReadOnlyCollection<PeftConfig> existing, int? vocabSize)
    {
        var c = (PromptLearningConfig)config;
        if (existing.FirstOrDefault(e => e.PeftType != config.PeftType) is { } other)
            throw new ArgumentException($"Cannot combine adapters with different peft types. Found {other.PeftType} and {config.PeftType}.");
        if (c.NumVirtualTokens <= 0)
            throw new ArgumentException($"{PeftType}: num_virtual_tokens must be positive, got {c.NumVirtualTokens}");
        if ((c.NumTransformerSubmodules ?? 1) != 1)
            throw new NotSupportedException($"{PeftType}: num_transformer_submodules = {c.NumTransformerSubmodules} is for encoder-decoder models; decoder-only models use 1");
        if (c.ModulesToSave is { Length: > 0 })
            throw new NotSupportedException($"{PeftType}: modules_to_save is not supported with prompt learning in this engine");
        var g = Model.Geometry;
        c = c with
        {
            NumLayers = c.NumLayers ?? g.NumLayers,
            TokenDim = c.TokenDim ?? g.HiddenSize,
            NumAttentionHeads = c.NumAttentionHeads ?? g.NumAttentionHeads,
            NumTransformerSubmodules = 1,
        };
        return Complete(c, g);
    }

    /// <summary>The method's own completion and checks of a config whose shared sizes are filled.</summary>
    protected abstract PromptLearningConfig Complete(PromptLearningConfig config, DecoderGeometry geometry);

    /// <summary>Builds the encoder of a new adapter.</summary>
    protected abstract Module CreateEncoder(PromptLearningConfig config, Generator? generator);

    /// <summary>The table the file's <c>prompt_embeddings</c> is loaded into (HF: prompt_encoder[name].embedding.weight).</summary>
    protected abstract Parameter Table(Module encoder);

    /// <summary>What the file holds for a trainable adapter: the encoder's output for the n virtual tokens, (n, ·).</summary>
    protected abstract Tensor Computed(Module encoder);

    /// <inheritdoc/>
    public override void Inject(Module model, string adapter, PeftConfig config, PeftRuntime runtime, Generator? generator)
    {
        var encoder = CreateEncoder((PromptLearningConfig)config, generator);
        Encoders.Add(adapter, encoder);
    }

    /// <inheritdoc/>
    public override void Delete(Module model, string adapter) => Encoders.Remove(adapter);

    /// <summary>Makes the parameters of <paramref name="adapter"/>'s encoder trainable or frozen.</summary>
    internal void SetRequiresGrad(string adapter, bool requiresGrad)
    {
        foreach (var p in Encoders[adapter].Parameters()) p.RequiresGrad = requiresGrad;
    }

    /// <summary>The encoder of <paramref name="adapter"/>.</summary>
    internal Module Encoder(string adapter) => Encoders[adapter];

    /// <inheritdoc/>
    /// <remarks>HF: get_peft_model_state_dict: the table itself in inference mode, else
    /// get_prompt_embedding_to_save (the encoder's output, detached, F32).</remarks>
    public override Dictionary<string, Tensor> SaveStateDict(Module model, string adapter, PeftConfig config)
    {
        var encoder = Encoders[adapter];
        if (config.InferenceMode) return new Dictionary<string, Tensor> { [FileKey] = Table(encoder).Data.Detach() };
        using var _ = GradMode.Disable();
        using var computed = Computed(encoder);
        return new Dictionary<string, Tensor> { [FileKey] = computed.Detach() };
    }

    /// <inheritdoc/>
    /// <remarks>HF: prompt_encoder[name].embedding.load_state_dict({"weight": prompt_embeddings}, strict=True), which
    /// fails with a size mismatch for a trainable projected prefix (the file holds the computed prefix).</remarks>
    public override Dictionary<string, Tensor> LoadTargets(Module model, string adapter, PeftConfig config) =>
        new() { [FileKey] = Table(Encoders[adapter]).Data.Detach() };
}
