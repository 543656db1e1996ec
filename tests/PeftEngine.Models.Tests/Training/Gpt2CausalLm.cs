using PeftEngine.IO;
using PeftEngine.Models;
using PeftEngine.Nn;

namespace PeftEngine.Tests.Training;

/// <summary>GPT-2 seen through <see cref="ICausalLanguageModel"/> for the trainer tests (no KV cache).</summary>
internal sealed class Gpt2CausalLm(Gpt2Model model) : ICausalLanguageModel, IDisposable
{
    public Gpt2Model Model { get; } = model;

    public Module Module => Model;

    public int VocabSize => Model.Config.VocabSize;

    public int MaxPositions => Model.Config.MaxPositionEmbeddings;

    public Tensor Forward(Tensor ids, Tensor? attentionMask = null, ModelKvCache? cache = null) =>
        cache is null ? Model.Forward(ids, attentionMask) : throw new NotSupportedException("Gpt2CausalLm: no KV cache in tests");

    public Tensor Loss(Tensor ids, Tensor labels, Tensor? attentionMask = null) => Model.Loss(ids, labels, attentionMask);

    public ModelKvCache CreateCache(int batch, int maxLength) => throw new NotSupportedException("Gpt2CausalLm: no KV cache in tests");

    public void Dispose() => Model.Dispose();

    /// <summary>A 2-layer GPT-2 with 16-wide embeddings over a 40-token vocabulary.</summary>
    public static Gpt2CausalLm Tiny(Generator generator, double dropout = 0) => new(new Gpt2Model((Gpt2Config)HfConfig.Parse(
        "{\"model_type\":\"gpt2\",\"vocab_size\":40,\"n_positions\":32,\"n_embd\":16,\"n_layer\":2,\"n_head\":2,"
        + $"\"attn_pdrop\":{D(dropout)},\"resid_pdrop\":{D(dropout)},\"embd_pdrop\":{D(dropout)}}}"), generator: generator));

    private static string D(double v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
