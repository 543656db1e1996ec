using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>
/// What every decoder-only language model of PeftEngine offers (GPT-2, the LLaMA family): logits from token ids,
/// the causal LM loss, and incremental decoding through a per-layer key/value cache. Trainers, generation and the
/// PEFT wrappers are written against this contract, never against one architecture.
/// </summary>
/// <remarks>HF: the common surface of <c>AutoModelForCausalLM</c> models (forward with input_ids, attention_mask,
/// labels and past_key_values).</remarks>
public interface ICausalLanguageModel
{
    /// <summary>The model as a module tree (parameters, train/eval mode, state dict).</summary>
    Module Module { get; }

    /// <summary>Size of the output vocabulary V.</summary>
    int VocabSize { get; }

    /// <summary>The longest sequence (prompt plus generated tokens) the model accepts.</summary>
    int MaxPositions { get; }

    /// <summary>
    /// ids (B, T) I64 -> logits (B, T, V). <paramref name="attentionMask"/> (B, S) marks real tokens with 1 and
    /// padding with 0, where S = cached positions + T. With a <paramref name="cache"/>, ids hold the T newest
    /// positions: their keys and values are appended to the cache and attention covers every cached position.
    /// </summary>
    Tensor Forward(Tensor ids, Tensor? attentionMask = null, ModelKvCache? cache = null);

    /// <summary>The causal LM loss: logits at positions 0 .. T-2 scored against labels 1 .. T-1, labels equal
    /// to -100 ignored, mean over the rest (a scalar).</summary>
    Tensor Loss(Tensor ids, Tensor labels, Tensor? attentionMask = null);

    /// <summary>An empty cache for <paramref name="batch"/> sequences of up to <paramref name="maxLength"/>
    /// positions, in the model's dtype.</summary>
    ModelKvCache CreateCache(int batch, int maxLength);
}

/// <summary>One <see cref="KvCache"/> per attention layer of a model, disposed together.</summary>
public sealed class ModelKvCache(IReadOnlyList<KvCache> layers) : IDisposable
{
    /// <summary>Allocates <paramref name="layers"/> empty caches of (batch, kvHeads, maxLength, headDim) each, in
    /// <paramref name="dtype"/> (the model's weight dtype; bf16/f16 models compute and cache in f32), on
    /// <paramref name="device"/> (null: the default device).</summary>
    public static ModelKvCache Allocate(int layers, int batch, int kvHeads, int maxLength, int headDim, DType dtype, Device? device = null)
    {
        if (!dtype.IsCompute()) dtype = DType.F32;
        var caches = new List<KvCache>(layers);
        for (int i = 0; i < layers; i++) caches.Add(new KvCache(batch, kvHeads, maxLength, headDim, dtype, device));
        return new ModelKvCache(caches);
    }

    /// <summary>The per-layer caches, in layer order.</summary>
    public IReadOnlyList<KvCache> Layers { get; } = layers ?? throw new ArgumentNullException(nameof(layers));

    /// <summary>Positions cached so far (equal in every layer).</summary>
    public int Length => Layers.Count == 0 ? 0 : Layers[0].Length;

    /// <summary>Forgets every position, keeping the buffers.</summary>
    public void Reset()
    {
        foreach (var layer in Layers) layer.Reset();
    }

    /// <summary>Frees every layer's buffers.</summary>
    public void Dispose()
    {
        foreach (var layer in Layers) layer.Dispose();
    }
}

/// <summary>A causal LM that also takes explicit positions per row, so that a left-padded row counts its
/// positions from its first real token (what generation of a padded batch needs).</summary>
/// <remarks>HF: the position_ids argument of the model's forward, as generate() computes it from the
/// attention mask (cumsum - 1).</remarks>
public interface IPositionedCausalLanguageModel : ICausalLanguageModel
{
    /// <summary>As <see cref="ICausalLanguageModel.Forward"/>, with <paramref name="positionIds"/> (B, T) I64 giving
    /// each new token's position (null: cached .. cached + T - 1).</summary>
    Tensor Forward(Tensor ids, Tensor? attentionMask, ModelKvCache? cache, Tensor? positionIds);
}

/// <summary>
/// Keys and values to place before every attention layer's own keys and values: per layer, keys and values of
/// (B, Hkv, P, D). They are used as given (no projection, no rotary positions), always attended (the caller widens
/// the attention mask by P ones), and the real tokens' positions start at P. Gradients flow into them.
/// </summary>
/// <remarks>HF: past_key_values given to the model's forward (a DynamicCache built from a legacy tuple of
/// per-layer (key, value) pairs), the way PEFT's prefix tuning injects its prefix. The prefix does not own
/// the tensors; whoever built them disposes them.</remarks>
public sealed class AttentionPrefix
{
    /// <summary>Wraps one (keys, values) pair per attention layer, each (B, Hkv, P, D), all of one shape.</summary>
    public AttentionPrefix(IReadOnlyList<(Tensor Keys, Tensor Values)> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0) throw new ArgumentException("AttentionPrefix: no layers");
        var shape = layers[0].Keys.Shape;
        if (shape.Rank != 4 || shape[2] == 0)
            throw new ArgumentException($"AttentionPrefix: keys must be (B, Hkv, P ≥ 1, D), got {shape}");
        for (int i = 0; i < layers.Count; i++)
            if (layers[i].Keys.Shape != shape || layers[i].Values.Shape != shape || layers[i].Keys.DType != layers[0].Keys.DType
                || layers[i].Values.DType != layers[0].Keys.DType)
                throw new ArgumentException($"AttentionPrefix: layer {i} has keys {layers[i].Keys.Shape} and values {layers[i].Values.Shape}; every layer must hold {shape} {layers[0].Keys.DType.Name()}");
        Layers = layers;
    }

    /// <summary>The (keys, values) of each attention layer, in layer order.</summary>
    public IReadOnlyList<(Tensor Keys, Tensor Values)> Layers { get; }

    /// <summary>P, the prefix positions.</summary>
    public int Length => Layers[0].Keys.Shape[2];

    /// <summary>Writes the prefix into an empty cache (positions 0 .. P-1 of every layer), so that the first step
    /// and every later one attend to it as to any cached position.</summary>
    /// <remarks>HF: generation starting from a non-empty past_key_values.</remarks>
    public void WriteInto(ModelKvCache cache)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (cache.Length != 0)
            throw new ArgumentException($"AttentionPrefix: the prefix goes before the first token, into an empty cache; this one holds {cache.Length} positions");
        if (cache.Layers.Count != Layers.Count)
            throw new ArgumentException($"AttentionPrefix: {Layers.Count} prefix layers for a cache of {cache.Layers.Count}");
        for (int i = 0; i < Layers.Count; i++)
        {
            var (k, v) = cache.Layers[i].Append(Layers[i].Keys, Layers[i].Values);   // (B, Hkv, P, D) views
            k.Dispose();
            v.Dispose();
        }
    }

    /// <summary>Checks the prefix against a model: <paramref name="layers"/> layers of (batch, kvHeads, P, headDim) in <paramref name="dtype"/>.</summary>
    public void Check(string who, int layers, int batch, int kvHeads, int headDim, DType dtype)
    {
        var s = Layers[0].Keys.Shape;
        if (Layers.Count != layers || s[0] != batch || s[1] != kvHeads || s[3] != headDim || Layers[0].Keys.DType != dtype)
            throw new ArgumentException($"{who}: the attention prefix has {Layers.Count} layers of {Layers[0].Keys.DType.Name()} {s}; the model needs {layers} layers of {dtype.Name()} (B = {batch}, Hkv = {kvHeads}, P, D = {headDim})");
    }
}

/// <summary>Everything a decoder forward can take beyond token ids: exactly one of <see cref="InputIds"/> and
/// <see cref="InputsEmbeds"/>, and optionally a padding mask, a cache, explicit positions and an attention prefix.</summary>
/// <remarks>HF: the keyword arguments of a causal LM's forward (input_ids | inputs_embeds, attention_mask,
/// past_key_values, position_ids).</remarks>
public sealed record DecoderInputs
{
    /// <summary>(B, T) I64 token ids, or null when <see cref="InputsEmbeds"/> is given.</summary>
    public Tensor? InputIds { get; init; }

    /// <summary>(B, T, C) vectors fed in place of the token embeddings (gradients flow into them), or null.</summary>
    public Tensor? InputsEmbeds { get; init; }

    /// <summary>(B, S) of 1 (token) and 0 (padding) over S = prefix + cached + T positions, or null.</summary>
    public Tensor? AttentionMask { get; init; }

    /// <summary>The model's cache, or null. With a prefix, the cache must be empty: the prefix is written into it
    /// first, so that later steps attend to it as to any cached position.</summary>
    public ModelKvCache? Cache { get; init; }

    /// <summary>(B, T) I64 positions, or null for prefix + cached + 0 .. T-1.</summary>
    public Tensor? PositionIds { get; init; }

    /// <summary>Per-layer keys and values before the sequence, or null.</summary>
    public AttentionPrefix? Prefix { get; init; }

    /// <summary>(B, T) of the inputs, checking that exactly one of ids and embeddings is given.</summary>
    public (int Batch, int Length) Size(string who)
    {
        if ((InputIds is null) == (InputsEmbeds is null))
            throw new ArgumentException($"{who}: give exactly one of input ids and input embeddings");
        if (InputIds is { } ids && (ids.Rank != 2 || ids.DType != DType.I64))
            throw new ArgumentException($"{who}: ids must be (B, T) i64, got {ids.DType.Name()} {ids.Shape}");
        if (InputsEmbeds is { } e && e.Rank != 3)
            throw new ArgumentException($"{who}: input embeddings must be (B, T, C), got {e.Shape}");
        var x = InputIds ?? InputsEmbeds!;
        return (x.Shape[0], x.Shape[1]);
    }
}

/// <summary>The attention layout of a decoder, as prompt-learning methods size their parameters from it.</summary>
/// <param name="NumLayers">Attention layers (num_hidden_layers / n_layer).</param>
/// <param name="HiddenSize">Width C of the token embeddings (hidden_size / n_embd).</param>
/// <param name="NumAttentionHeads">Query heads H.</param>
/// <param name="NumKeyValueHeads">Key/value heads Hkv (H without grouped-query attention).</param>
/// <param name="HeadDim">Width D of one head.</param>
/// <param name="HasKeyValueHeadsField">True when the HF config carries num_key_value_heads (LLaMA family), which
/// is what PEFT reads to size a prefix per key/value head.</param>
public sealed record DecoderGeometry(int NumLayers, int HiddenSize, int NumAttentionHeads, int NumKeyValueHeads, int HeadDim,
    bool HasKeyValueHeadsField);

/// <summary>A causal LM that also takes input embeddings and an attention prefix (what prompt tuning and prefix
/// tuning need), knowing nothing of either method.</summary>
/// <remarks>HF: model(inputs_embeds=..., past_key_values=...) and model.get_input_embeddings().</remarks>
public interface IPromptableCausalLanguageModel : ICausalLanguageModel
{
    /// <summary>The attention layout.</summary>
    DecoderGeometry Geometry { get; }

    /// <summary>ids (B, T) I64 -> token embeddings (B, T, C) through the model's input embedding child (whatever
    /// wraps it, e.g. a LoRA embedding).</summary>
    /// <remarks>HF: model.get_input_embeddings()(input_ids).</remarks>
    Tensor EmbedTokens(Tensor ids);

    /// <summary>Logits (B, T, V) for the given inputs.</summary>
    Tensor Forward(DecoderInputs inputs);
}
