using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>
/// An output projection that reuses a token embedding's table: logits = h · Eᵀ. It owns no parameter, so the
/// state dict holds the table once (under the embedding's name), as HF's tied checkpoints do.
/// </summary>
/// <remarks>HF: <c>lm_head</c> (nn.Linear(hidden, vocab, bias=False)) with <c>tie_word_embeddings = true</c>,
/// whose weight is the same Parameter as <c>model.embed_tokens.weight</c>.</remarks>
public sealed class TiedLmHead(Embedding tiedTo) : Module
{
    /// <summary>The embedding whose table is the projection.</summary>
    public Embedding TiedTo { get; } = tiedTo ?? throw new ArgumentNullException(nameof(tiedTo));

    /// <summary>Hidden states (…, C) -> logits (…, V).</summary>
    public override Tensor Forward(Tensor x) => Ops.Linear(x, TiedTo.Weight);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"in_features={TiedTo.EmbeddingDim}, out_features={TiedTo.NumEmbeddings}, tied=embed_tokens";
}
