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
    /// <paramref name="dtype"/> (the model's weight dtype; bf16/f16 models compute and cache in f32).</summary>
    public static ModelKvCache Allocate(int layers, int batch, int kvHeads, int maxLength, int headDim, DType dtype)
    {
        if (!dtype.IsCompute()) dtype = DType.F32;
        var caches = new List<KvCache>(layers);
        for (int i = 0; i < layers; i++) caches.Add(new KvCache(batch, kvHeads, maxLength, headDim, dtype));
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
