using PeftEngine.IO;
using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>
/// A LLaMA-family causal language model (Llama 2/3, Mistral, Qwen2): the <see cref="LlamaTransformer"/> body
/// under <c>model</c> and the output projection <c>lm_head</c> (a Linear, or tied to the token embedding when
/// tie_word_embeddings). Module paths are HF's (<c>model.layers.0.self_attn.q_proj</c>), so PEFT target names
/// and state dicts carry over.
/// </summary>
/// <remarks>HF: transformers.LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM.</remarks>
public sealed partial class LlamaModel : Module, ICausalLanguageModel, IPositionedCausalLanguageModel, IPromptableCausalLanguageModel
{
    /// <summary>Creates a randomly initialised model in training mode.</summary>
    /// <param name="config">A llama, mistral or qwen2 config.</param>
    /// <param name="dtype">Parameter dtype: F32 or F64, or BF16/F16 (stored in 16 bits, computed in f32).</param>
    /// <param name="generator">Random source for the initialisation.</param>
    /// <remarks>PyTorch/HF: LlamaForCausalLM(config).</remarks>
    public LlamaModel(RopeDecoderConfig config, DType dtype = DType.F32, Generator? generator = null)
        : this(config, dtype, generator, null) { }

    /// <summary>Creates the model with its Linear layers (lm_head included) from <paramref name="linears"/>.</summary>
    private LlamaModel(RopeDecoderConfig config, DType dtype, Generator? generator, LlamaLinearFactory? linears)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (!dtype.IsFloat())
            throw new ArgumentException($"LlamaModel: parameters must be f32, f64, bf16 or f16, not {dtype.Name()}");
        var build = dtype.IsCompute() ? dtype : DType.F32;   // 16-bit: initialised in f32, then stored in 16 bits
        Config = config;
        var body = RegisterModule("model", new LlamaTransformer(config, build, generator, linears));
        if (config.TieWordEmbeddings)
        {
            RegisterModule("lm_head", new TiedLmHead(body.EmbedTokens));
        }
        else
        {
            var head = RegisterModule("lm_head", LlamaLinears.Create(linears, "lm_head", config.HiddenSize, config.VocabSize, false, build, generator));
            if (head is Linear linear)
                using (GradMode.Disable()) Init.Normal(linear.Weight, 0, 0.02, generator);
        }
        if (build != dtype) To(dtype);
    }

    /// <summary>The configuration the model was built from.</summary>
    public RopeDecoderConfig Config { get; }

    /// <summary>The body (HF LlamaModel).</summary>
    public LlamaTransformer Transformer => GetSubmodule<LlamaTransformer>("model");

    /// <inheritdoc/>
    Module ICausalLanguageModel.Module => this;

    /// <inheritdoc/>
    public int VocabSize => Config.VocabSize;

    /// <inheritdoc/>
    public int MaxPositions => Config.MaxPositionEmbeddings;

    /// <summary>Per-layer gradient checkpointing (see <see cref="LlamaTransformer.GradientCheckpointing"/>).</summary>
    public bool GradientCheckpointing
    {
        get => Transformer.GradientCheckpointing;
        set => Transformer.GradientCheckpointing = value;
    }

    /// <summary>ids (B, T) I64 -> logits (B, T, V).</summary>
    public override Tensor Forward(Tensor ids) => Forward(ids, null, null);

    /// <inheritdoc/>
    /// <remarks>HF: LlamaForCausalLM(input_ids, attention_mask, past_key_values).logits.</remarks>
    public Tensor Forward(Tensor ids, Tensor? attentionMask = null, ModelKvCache? cache = null)
    {
        using var hidden = Transformer.Forward(ids, attentionMask, cache);   // (B, T) -> (B, T, C)
        return GetChild("lm_head").Forward(hidden);                          // (B, T, C) -> (B, T, V)
    }

    /// <inheritdoc/>
    /// <remarks>HF: LlamaForCausalLM(input_ids, attention_mask, position_ids, past_key_values).logits.</remarks>
    public Tensor Forward(Tensor ids, Tensor? attentionMask, ModelKvCache? cache, Tensor? positionIds)
    {
        using var hidden = Transformer.Forward(ids, attentionMask, cache, positionIds);   // (B, T) -> (B, T, C)
        return GetChild("lm_head").Forward(hidden);                                       // (B, T, C) -> (B, T, V)
    }

    /// <inheritdoc/>
    /// <remarks>HF: LlamaForCausalLM(input_ids | inputs_embeds, attention_mask, position_ids, past_key_values).logits.</remarks>
    public Tensor Forward(DecoderInputs inputs)
    {
        using var hidden = Transformer.Forward(inputs);         // (B, T) or (B, T, C) -> (B, T, C)
        return GetChild("lm_head").Forward(hidden);             // (B, T, C) -> (B, T, V)
    }

    /// <inheritdoc/>
    public Tensor EmbedTokens(Tensor ids) => Transformer.EmbedInput(ids);

    /// <inheritdoc/>
    /// <remarks>HF: the config's num_hidden_layers, hidden_size, num_attention_heads, num_key_value_heads, head_dim.</remarks>
    public DecoderGeometry Geometry => new(Config.NumHiddenLayers, Config.HiddenSize, Config.NumAttentionHeads,
        Config.NumKeyValueHeads, Config.HeadDim, HasKeyValueHeadsField: true);

    /// <inheritdoc/>
    /// <remarks>HF: LlamaForCausalLM(input_ids, attention_mask, labels=labels).loss.</remarks>
    public Tensor Loss(Tensor ids, Tensor labels, Tensor? attentionMask = null)
    {
        using var logits = Forward(ids, attentionMask, null);   // (B, T, V)
        return CausalLmLoss.Compute(logits, labels, nameof(LlamaModel));
    }

    /// <inheritdoc/>
    /// <remarks>HF: StaticCache(config, max_batch_size, max_cache_len).</remarks>
    public ModelKvCache CreateCache(int batch, int maxLength)
    {
        if (maxLength > MaxPositions)
            throw new ArgumentException($"LlamaModel.CreateCache: {maxLength} positions exceed max_position_embeddings {MaxPositions}");
        var norm = Transformer.GetSubmodule("norm").Parameters().First();
        var dtype = norm.DType;
        return ModelKvCache.Allocate(Config.NumHiddenLayers, batch, Config.NumKeyValueHeads, maxLength, Config.HeadDim, dtype, norm.Data.Device);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"model_type={Config.ModelType}";
}
