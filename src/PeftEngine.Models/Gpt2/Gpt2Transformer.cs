using PeftEngine.IO;
using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>
/// GPT-2's body without the output head: token embedding plus learned position embedding, dropout, the stack of
/// blocks, and the final LayerNorm. Maps ids (B, T) to hidden states (B, T, C).
/// </summary>
/// <remarks>HF: transformers.models.gpt2.modeling_gpt2.GPT2Model (children wte, wpe, drop, h, ln_f); it is the
/// <c>transformer</c> child of GPT2LMHeadModel.</remarks>
public sealed class Gpt2Transformer : Module, ILayerOutputHooks
{
    /// <summary>Creates the body with GPT-2's initialisation (embeddings and weights N(0, 0.02²), each residual
    /// output projection N(0, (0.02 / √(2·n_layer))²)).</summary>
    public Gpt2Transformer(Gpt2Config config, DType dtype = DType.F32, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        _dropoutGenerator = generator ?? Generator.Default;
        var wte = RegisterModule("wte", new Embedding(config.VocabSize, config.HiddenSize, dtype: dtype, generator: generator));
        var wpe = RegisterModule("wpe", new Embedding(config.MaxPositionEmbeddings, config.HiddenSize, dtype: dtype, generator: generator));
        RegisterModule("drop", new Dropout(config.EmbdPdrop, generator));
        var blocks = RegisterModule("h", new ModuleList());
        for (int i = 0; i < config.NumHiddenLayers; i++) blocks.Add(new Gpt2Block(config, i, dtype, generator));
        RegisterModule("ln_f", new LayerNorm(config.HiddenSize, config.LayerNormEpsilon, dtype: dtype));

        using (GradMode.Disable())
        {
            Init.Normal(wte.Weight, 0, 0.02, generator);
            Init.Normal(wpe.Weight, 0, 0.02, generator);
            double projStd = 0.02 / Math.Sqrt(2.0 * Math.Max(1, config.NumHiddenLayers));
            foreach (var block in blocks)
            {
                Init.Normal(block.GetSubmodule<Conv1D>("attn.c_proj").Weight, 0, projStd, generator);
                Init.Normal(block.GetSubmodule<Conv1D>("mlp.c_proj").Weight, 0, projStd, generator);
            }
        }
    }

    private readonly Generator _dropoutGenerator;

    /// <summary>The configuration the body was built from.</summary>
    public Gpt2Config Config { get; }

    /// <summary>The token embedding (V, C), also used as the output projection when embeddings are tied.</summary>
    public Embedding Wte => GetSubmodule<Embedding>("wte");

    /// <summary>Recompute each block in backward instead of keeping its activations (training only; ignored
    /// with a cache or without gradient recording).</summary>
    /// <remarks>HF: model.gradient_checkpointing_enable().</remarks>
    public bool GradientCheckpointing { get; set; }

    /// <inheritdoc/>
    public IList<LayerOutputHook> LayerOutputHooks { get; } = new List<LayerOutputHook>();

    /// <summary>ids (B, T) I64 -> hidden states (B, T, C).</summary>
    public override Tensor Forward(Tensor ids) => Forward(ids, null, null);

    /// <summary>ids (B, T) I64 -> hidden states (B, T, C). <paramref name="attentionMask"/> (B, S) of 1 (token) and
    /// 0 (padding) over the S = cached + T positions keeps real queries from attending to padded keys (see
    /// <see cref="AttentionMasks"/>). With a <paramref name="cache"/> the ids are the T newest positions, at
    /// positions cached .. cached + T - 1.</summary>
    /// <remarks>HF: GPT2Model.forward(input_ids, attention_mask, past_key_values). Positions are not shifted past
    /// left padding (HF's forward without position_ids does the same).</remarks>
    /// <param name="ids">(B, T) I64.</param>
    /// <param name="attentionMask">(B, S) or null.</param>
    /// <param name="cache">The model's cache or null.</param>
    /// <param name="positionIds">(B, T) I64 positions (HF position_ids), or null for cached .. cached + T - 1.</param>
    public Tensor Forward(Tensor ids, Tensor? attentionMask, ModelKvCache? cache, Tensor? positionIds = null) =>
        Forward(new DecoderInputs { InputIds = ids, AttentionMask = attentionMask, Cache = cache, PositionIds = positionIds });

    /// <summary>ids (B, T) I64 -> token embeddings (B, T, C) through the <c>wte</c> child, whatever wraps it.</summary>
    /// <remarks>HF: transformer.wte(input_ids).</remarks>
    public Tensor EmbedInput(Tensor ids) => GetChild("wte").Forward(ids);

    /// <summary>Hidden states (B, T, C) for ids or input embeddings (the position embedding is added to either),
    /// with an optional attention prefix of P positions: the tokens sit at positions P + cached .. P + cached + T - 1
    /// and the mask covers S = P + cached + T columns (see <see cref="DecoderInputs"/>).</summary>
    /// <remarks>HF: GPT2Model.forward(input_ids | inputs_embeds, attention_mask, past_key_values, position_ids);
    /// positions start after the past (cache_position).</remarks>
    public Tensor Forward(DecoderInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var (b, t) = inputs.Size(nameof(Gpt2Transformer));
        var (cache, prefix, positionIds) = (inputs.Cache, inputs.Prefix, inputs.PositionIds);
        var blocks = (ModuleList)GetChild("h");
        if (cache is not null && cache.Layers.Count != blocks.Count)
            throw new ArgumentException($"Gpt2Transformer: the cache has {cache.Layers.Count} layers, the model {blocks.Count}");
        DType dtype = GetChild("ln_f").Parameters().First().DType;
        prefix?.Check(nameof(Gpt2Transformer), blocks.Count, b, Config.NumAttentionHeads, Config.HiddenSize / Config.NumAttentionHeads, dtype);
        int offset = (cache?.Length ?? 0) + (prefix?.Length ?? 0), s = offset + t;
        if (t == 0 || s > Config.MaxPositionEmbeddings)
            throw new ArgumentException($"Gpt2Transformer: {offset} cached/prefix + {t} new positions must be in [1, n_positions = {Config.MaxPositionEmbeddings}]");
        if (positionIds is not null && (positionIds.Rank != 2 || positionIds.Shape[0] != b || positionIds.Shape[1] != t || positionIds.DType != DType.I64))
            throw new ArgumentException($"Gpt2Transformer: position ids must be i64 (B, T) = ({b}, {t}), got {positionIds.DType.Name()} {positionIds.Shape}");
        if (prefix is not null && cache is not null) prefix.WriteInto(cache);

        using var tokens = inputs.InputIds is { } ids ? EmbedInput(ids)        // (B, T) -> (B, T, C)
            : Ops.View(inputs.InputsEmbeds!, inputs.InputsEmbeds!.Shape.ToArray());   // keeps the graph to the embeddings
        var device = tokens.Device;
        using var positions = positionIds is null ? Ops.Arange(offset, s, dtype: DType.I64, device: device) : positionIds.Alias();   // (T) or (B, T)
        using var pos = GetChild("wpe").Forward(positions);                    // (T) -> (T, C) broadcast over B, or (B, T) -> (B, T, C)
        using var summed = Ops.Add(tokens, pos);
        using var mask = AttentionMasks.Build(inputs.AttentionMask, b, t, s, null, dtype, device);   // (B, 1, T, S) or null
        Tensor h = GetChild("drop").Forward(summed);
        int i = 0;
        bool checkpoint = GradientCheckpointing && IsTraining && cache is null && prefix is null && GradMode.IsEnabled;
        foreach (var module in blocks)
        {
            // Checkpointed blocks get the mask as an input so that the recompute in backward still holds it;
            // the dropout generator is rewound for the recompute, so dropout draws the same masks again.
            Generator[] rng = [_dropoutGenerator];
            var next = module is not Gpt2Block block
                    ? (prefix is null ? module.Forward(h) : throw new NotSupportedException($"Gpt2Transformer: h.{i} is a {module.GetType().Name}, which takes no attention prefix"))
                : !checkpoint ? block.Forward(h, mask, cache?.Layers[i], cache is null ? prefix?.Layers[i] : null)
                : mask is null ? Checkpoint.Run(xs => block.Forward(xs[0], null, null), rng, h)
                : Checkpoint.Run(xs => block.Forward(xs[0], xs[1], null), rng, h, mask);
            h.Dispose();
            h = LayerHooks.Apply(LayerOutputHooks, i, next, offset);   // outside the checkpointed region
            i++;
        }
        using (h) return GetChild("ln_f").Forward(h);
    }
}
