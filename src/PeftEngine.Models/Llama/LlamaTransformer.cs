using PeftEngine.IO;
using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>
/// The LLaMA-family body without the output head: token embedding, the stack of decoder layers and the final
/// RMSNorm. Maps ids (B, T) to hidden states (B, T, C). Positions are cached + 0 .. T-1 for every row.
/// </summary>
/// <remarks>HF: LlamaModel / MistralModel / Qwen2Model (children embed_tokens, layers, norm; the rotary tables,
/// HF's rotary_emb, hold no parameters and live in <see cref="Rotary"/>). As HF's forward without
/// position_ids, positions do not skip left padding.</remarks>
public sealed class LlamaTransformer : Module, ILayerOutputHooks
{
    /// <summary>Creates the body with HF's initialisation (weights N(0, initializer_range² = 0.02²), norms one).</summary>
    public LlamaTransformer(RopeDecoderConfig config, DType dtype = DType.F32, Generator? generator = null)
        : this(config, dtype, generator, null) { }

    /// <summary>Creates the body with the layers' projections from <paramref name="linears"/> (HF paths under
    /// <c>model.</c>); modules it supplies keep their own values.</summary>
    internal LlamaTransformer(RopeDecoderConfig config, DType dtype, Generator? generator, LlamaLinearFactory? linears)
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        var embed = RegisterModule("embed_tokens", new Embedding(config.VocabSize, config.HiddenSize, dtype: dtype, generator: generator));
        var layers = RegisterModule("layers", new ModuleList());
        for (int i = 0; i < config.NumHiddenLayers; i++)
            layers.Add(new LlamaDecoderLayer(config, i, dtype, generator, linears, $"model.layers.{i}."));
        RegisterModule("norm", new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype));
        Rotary = LlamaRotaryEmbedding.FromConfig(config);
        using (GradMode.Disable())
        {
            Init.Normal(embed.Weight, 0, 0.02, generator);
            foreach (var (_, m) in layers.NamedModules())
                if (m is Linear linear)
                {
                    Init.Normal(linear.Weight, 0, 0.02, generator);
                    if (linear.Bias is { } bias) Ops.FillInPlace(bias, 0);
                }
        }
    }

    /// <summary>The configuration the body was built from.</summary>
    public RopeDecoderConfig Config { get; }

    /// <summary>The rotary tables shared by every layer.</summary>
    public LlamaRotaryEmbedding Rotary { get; private set; }

    /// <summary>Replaces the rotary tables (a GGUF file may carry its own per-frequency factors).</summary>
    internal void ReplaceRotary(LlamaRotaryEmbedding rotary)
    {
        Rotary.Dispose();
        Rotary = rotary;
    }

    /// <summary>The token embedding (V, C).</summary>
    public Embedding EmbedTokens => GetSubmodule<Embedding>("embed_tokens");

    /// <summary>Recompute each layer in backward instead of keeping its activations (training only; ignored
    /// with a cache or without gradient recording).</summary>
    /// <remarks>HF: model.gradient_checkpointing_enable().</remarks>
    public bool GradientCheckpointing { get; set; }

    /// <inheritdoc/>
    public IList<LayerOutputHook> LayerOutputHooks { get; } = new List<LayerOutputHook>();

    /// <summary>ids (B, T) I64 -> hidden states (B, T, C).</summary>
    public override Tensor Forward(Tensor ids) => Forward(ids, null, null);

    /// <summary>ids (B, T) I64 -> hidden states (B, T, C). <paramref name="attentionMask"/> (B, S) marks real
    /// tokens (1) and padding (0) over the S = cached + T positions; with a <paramref name="cache"/> the ids are
    /// the T newest positions.</summary>
    /// <remarks>HF: LlamaModel.forward(input_ids, attention_mask, past_key_values).last_hidden_state.</remarks>
    /// <param name="ids">(B, T) I64.</param>
    /// <param name="attentionMask">(B, S) or null.</param>
    /// <param name="cache">The model's cache or null.</param>
    /// <param name="positionIds">(B, T) I64 rotary positions (HF position_ids), or null for cached .. cached + T - 1.</param>
    public Tensor Forward(Tensor ids, Tensor? attentionMask, ModelKvCache? cache, Tensor? positionIds = null) =>
        Forward(new DecoderInputs { InputIds = ids, AttentionMask = attentionMask, Cache = cache, PositionIds = positionIds });

    /// <summary>ids (B, T) I64 -> token embeddings (B, T, C) through the <c>embed_tokens</c> child, whatever wraps it.</summary>
    /// <remarks>HF: model.embed_tokens(input_ids).</remarks>
    public Tensor EmbedInput(Tensor ids) => GetChild("embed_tokens").Forward(ids);

    /// <summary>Hidden states (B, T, C) for ids or input embeddings, with an optional attention prefix of P
    /// positions: the real tokens sit at positions P + cached .. P + cached + T - 1 and the mask covers
    /// S = P + cached + T columns (see <see cref="DecoderInputs"/>).</summary>
    /// <remarks>HF: LlamaModel.forward(input_ids | inputs_embeds, attention_mask, past_key_values, position_ids);
    /// a prefix is HF's past_key_values of length P: its keys are stored already rotated, so none is applied here,
    /// and cache_position starts at P.</remarks>
    public Tensor Forward(DecoderInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var (b, t) = inputs.Size(nameof(LlamaTransformer));
        var (cache, prefix, positionIds, attentionMask) = (inputs.Cache, inputs.Prefix, inputs.PositionIds, inputs.AttentionMask);
        var layers = (ModuleList)GetChild("layers");
        if (cache is not null && cache.Layers.Count != layers.Count)
            throw new ArgumentException($"LlamaTransformer: the cache has {cache.Layers.Count} layers, the model {layers.Count}");
        var norm = GetChild("norm").Parameters().First();
        DType dtype = norm.DType;
        prefix?.Check(nameof(LlamaTransformer), layers.Count, b, Config.NumKeyValueHeads, Config.HeadDim, dtype);
        int p = prefix?.Length ?? 0, offset = (cache?.Length ?? 0) + p, s = offset + t;
        if (t == 0 || s > Config.MaxPositionEmbeddings)
            throw new ArgumentException($"LlamaTransformer: {offset} cached/prefix + {t} new positions must be in [1, max_position_embeddings = {Config.MaxPositionEmbeddings}]");
        if (prefix is not null && cache is not null) prefix.WriteInto(cache);

        using var full = AttentionMasks.Build(attentionMask, b, t, s, null, dtype, norm.Data.Device);   // (B, 1, T, S) or null
        var windowed = new Dictionary<int, Tensor?>();
        bool checkpoint = GradientCheckpointing && IsTraining && cache is null && prefix is null && GradMode.IsEnabled;
        Tensor h = inputs.InputIds is { } ids ? EmbedInput(ids)                // (B, T) -> (B, T, C)
            : Ops.View(inputs.InputsEmbeds!, inputs.InputsEmbeds!.Shape.ToArray());   // keeps the graph to the embeddings
        try
        {
            int i = 0;
            foreach (var module in layers)
            {
                var layer = module as LlamaDecoderLayer
                    ?? throw new InvalidOperationException($"LlamaTransformer: layers.{i} is a {module.GetType().Name}, not a LlamaDecoderLayer");
                Tensor? mask = full;
                if (layer.SlidingWindow is int w)
                {
                    if (!windowed.TryGetValue(w, out mask))
                        windowed[w] = mask = AttentionMasks.Build(attentionMask, b, t, s, w, dtype, norm.Data.Device);
                }
                var layerCache = cache?.Layers[i];
                var layerPrefix = cache is null ? prefix?.Layers[i] : null;
                var next = checkpoint ? CheckpointedLayer(layer, h, mask, positionIds)
                    : layer.Forward(h, mask, Rotary, layerCache, positionIds, layerPrefix);
                h.Dispose();
                h = LayerHooks.Apply(LayerOutputHooks, i, next, offset);   // outside the checkpointed region
                i++;
            }
            return GetChild("norm").Forward(h);
        }
        finally
        {
            h.Dispose();
            foreach (var m in windowed.Values) m?.Dispose();
        }
    }

    /// <summary>Runs a layer under gradient checkpointing; the mask and positions are checkpoint inputs so that
    /// the recompute in backward still holds them.</summary>
    private Tensor CheckpointedLayer(LlamaDecoderLayer layer, Tensor h, Tensor? mask, Tensor? positionIds)
    {
        var inputs = new List<Tensor> { h };
        int maskAt = mask is null ? -1 : inputs.Count;
        if (mask is not null) inputs.Add(mask);
        int positionsAt = positionIds is null ? -1 : inputs.Count;
        if (positionIds is not null) inputs.Add(positionIds);
        return Checkpoint.Run(xs => layer.Forward(xs[0], maskAt < 0 ? null : xs[maskAt], Rotary, null, positionsAt < 0 ? null : xs[positionsAt]),
            [.. inputs]);
    }

    /// <inheritdoc/>
    protected override void DisposeExtra() => Rotary.Dispose();
}
