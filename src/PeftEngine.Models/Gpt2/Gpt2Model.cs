using PeftEngine.IO;
using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>
/// GPT-2 with its language-model head: the <see cref="Gpt2Transformer"/> body under <c>transformer</c> and the
/// output projection <c>lm_head</c>, tied to the token embedding. Module and parameter names are those of HF's
/// checkpoints (<c>transformer.h.0.attn.c_attn.weight</c>), so PEFT target names and state dicts carry over.
/// </summary>
/// <remarks>HF: transformers.GPT2LMHeadModel. The loss is HF's causal LM loss: position t predicts label t+1,
/// labels equal to -100 are ignored, the mean is over the rest.</remarks>
public sealed partial class Gpt2Model : Module, ICausalLanguageModel, IPositionedCausalLanguageModel, IPromptableCausalLanguageModel
{
    /// <summary>Creates a randomly initialised model (GPT-2's initialisation) in training mode.</summary>
    /// <remarks>PyTorch/HF: GPT2LMHeadModel(config).</remarks>
    public Gpt2Model(Gpt2Config config, DType dtype = DType.F32, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (!config.TieWordEmbeddings)
            throw new ArgumentException("Gpt2Model: only tied word embeddings (tie_word_embeddings = true, GPT-2's default) are supported");
        Config = config;
        var transformer = RegisterModule("transformer", new Gpt2Transformer(config, dtype, generator));
        RegisterModule("lm_head", new Gpt2LmHead(transformer.Wte));
    }

    /// <summary>The configuration the model was built from.</summary>
    public Gpt2Config Config { get; }

    /// <summary>The body (HF GPT2Model).</summary>
    public Gpt2Transformer Transformer => GetSubmodule<Gpt2Transformer>("transformer");

    /// <inheritdoc/>
    Module ICausalLanguageModel.Module => this;

    /// <summary>Per-block gradient checkpointing (see <see cref="Gpt2Transformer.GradientCheckpointing"/>).</summary>
    public bool GradientCheckpointing
    {
        get => Transformer.GradientCheckpointing;
        set => Transformer.GradientCheckpointing = value;
    }

    /// <inheritdoc/>
    public int VocabSize => Config.VocabSize;

    /// <inheritdoc/>
    public int MaxPositions => Config.MaxPositionEmbeddings;

    /// <summary>ids (B, T) I64 -> logits (B, T, V).</summary>
    public override Tensor Forward(Tensor ids) => Forward(ids, null, null);

    /// <summary>ids (B, T) I64 -> logits (B, T, V); <paramref name="attentionMask"/> (B, S), 1 for tokens and 0 for
    /// padding, as U8, I32 or I64, over the S = cached + T positions; with a <paramref name="cache"/> the ids are
    /// the T newest positions.</summary>
    /// <remarks>HF: GPT2LMHeadModel(input_ids, attention_mask, past_key_values).logits.</remarks>
    public Tensor Forward(Tensor ids, Tensor? attentionMask = null, ModelKvCache? cache = null)
    {
        using var hidden = Transformer.Forward(ids, attentionMask, cache);   // (B, T) -> (B, T, C)
        return GetChild("lm_head").Forward(hidden);                          // (B, T, C) -> (B, T, V)
    }

    /// <inheritdoc/>
    /// <remarks>HF: GPT2LMHeadModel(input_ids, attention_mask, position_ids, past_key_values).logits.</remarks>
    public Tensor Forward(Tensor ids, Tensor? attentionMask, ModelKvCache? cache, Tensor? positionIds)
    {
        using var hidden = Transformer.Forward(ids, attentionMask, cache, positionIds);   // (B, T) -> (B, T, C)
        return GetChild("lm_head").Forward(hidden);                                       // (B, T, C) -> (B, T, V)
    }

    /// <inheritdoc/>
    /// <remarks>HF: GPT2LMHeadModel(input_ids | inputs_embeds, attention_mask, position_ids, past_key_values).logits.</remarks>
    public Tensor Forward(DecoderInputs inputs)
    {
        using var hidden = Transformer.Forward(inputs);         // (B, T) or (B, T, C) -> (B, T, C)
        return GetChild("lm_head").Forward(hidden);             // (B, T, C) -> (B, T, V)
    }

    /// <inheritdoc/>
    public Tensor EmbedTokens(Tensor ids) => Transformer.EmbedInput(ids);

    /// <inheritdoc/>
    /// <remarks>HF: the config's n_layer, n_embd and n_head (GPT-2 has no num_key_value_heads).</remarks>
    public DecoderGeometry Geometry => new(Config.NumHiddenLayers, Config.HiddenSize, Config.NumAttentionHeads,
        Config.NumAttentionHeads, Config.HiddenSize / Config.NumAttentionHeads, HasKeyValueHeadsField: false);

    /// <summary>The causal LM loss of <paramref name="ids"/> (B, T) against <paramref name="labels"/> (B, T) I64:
    /// the logits at positions 0 .. T-2 are scored against labels 1 .. T-1, -100 labels are ignored, and the
    /// result is the mean over the remaining positions (a scalar).</summary>
    /// <remarks>HF: GPT2LMHeadModel(input_ids, labels=labels).loss.</remarks>
    public Tensor Loss(Tensor ids, Tensor labels, Tensor? attentionMask = null)
    {
        using var logits = Forward(ids, attentionMask, null);   // (B, T, V)
        return CausalLmLoss.Compute(logits, labels, nameof(Gpt2Model));
    }

    /// <inheritdoc/>
    /// <remarks>HF: a StaticCache for GPT-2 (n_head key/value heads of n_embd / n_head).</remarks>
    public ModelKvCache CreateCache(int batch, int maxLength)
    {
        if (maxLength > MaxPositions)
            throw new ArgumentException($"Gpt2Model.CreateCache: {maxLength} positions exceed n_positions {MaxPositions}");
        var norm = Transformer.GetSubmodule("ln_f").Parameters().First();
        var dtype = norm.DType;
        int heads = Config.NumAttentionHeads, headDim = Config.HiddenSize / heads;
        return ModelKvCache.Allocate(Config.NumHiddenLayers, batch, heads, maxLength, headDim, dtype, norm.Data.Device);
    }

    /// <summary>Greedy decoding without a key/value cache: appends the most likely next token
    /// <paramref name="maxNewTokens"/> times, running the full sequence each step. Returns (B, T + maxNewTokens).</summary>
    /// <remarks>HF: model.generate(input_ids, do_sample=False, max_new_tokens=n, use_cache=False), without stopping
    /// at end-of-sequence.</remarks>
    public Tensor GenerateGreedy(Tensor ids, int maxNewTokens)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxNewTokens);
        using var _ = GradMode.Disable();
        var sequence = ids.Alias();
        for (int step = 0; step < maxNewTokens; step++)
        {
            int t = sequence.Shape[1];
            using var logits = Forward(sequence);                   // (B, t, V)
            using var last = Ops.Select(logits, 1, t - 1);          // (B, t, V) -> (B, V)
            using var next = Ops.ArgMax(last, 1, keepDim: true);    // (B, V) -> (B, 1) i64
            var longer = Ops.Cat([sequence, next], 1);              // (B, t) + (B, 1) -> (B, t + 1)
            sequence.Dispose();
            sequence = longer;
        }
        return sequence;
    }
}
